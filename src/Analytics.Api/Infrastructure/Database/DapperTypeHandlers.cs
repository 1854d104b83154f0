using System.Data;
using System.Net;
using Dapper;

namespace Analytics.Api.Infrastructure.Database;

/// <summary>Dapper does not know <see cref="IPAddress"/>; Npgsql maps it to <c>inet</c> natively, so pass it through.</summary>
internal static class DapperTypeHandlers
{
    private static int _registered;

    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 0)
        {
            SqlMapper.AddTypeHandler(new IPAddressHandler());
        }
    }

    private sealed class IPAddressHandler : SqlMapper.TypeHandler<IPAddress>
    {
        public override void SetValue(IDbDataParameter parameter, IPAddress? value) => parameter.Value = (object?)value ?? DBNull.Value;

        public override IPAddress? Parse(object value) => value switch
        {
            IPAddress address => address,
            NpgsqlTypes.NpgsqlInet inet => inet.Address,
            string text => IPAddress.Parse(text),
            _ => null,
        };
    }
}
