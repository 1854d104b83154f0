using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace Analytics.Api.Infrastructure.Errors;

/// <summary>
/// PostgreSQL refused a value that the request carried: a NUL character (U+0000), which its text and jsonb cannot
/// hold, a number beyond its numeric range, a text longer than its column. The client sent it, so it is a 400 that
/// names the refusal, not a 500. The validators refuse what they know of first; this is the net under every write.
/// </summary>
public static class UnstorableValue
{
    public static PostgresException? Cause(Exception? exception) => exception is PostgresException
    {
        SqlState: PostgresErrorCodes.CharacterNotInRepertoire or PostgresErrorCodes.UntranslatableCharacter
            or PostgresErrorCodes.NumericValueOutOfRange or PostgresErrorCodes.StringDataRightTruncation,
    } refused ? refused : null;

    public static ProblemDetails Problem(PostgresException refused)
    {
        ArgumentNullException.ThrowIfNull(refused);
        return new()
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "A value could not be stored.",
            Detail = $"The database refused a value of this request ({refused.MessageText}): text must not contain the NUL character (U+0000), and numbers must fit a double.",
        };
    }
}
