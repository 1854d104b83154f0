using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Analytics.Api.Infrastructure.Database.Migrations;

/// <summary>One forward-only schema change, <c>db/migrations/NNNN_name.sql</c>.</summary>
public sealed record Migration(int Version, string Name, string Sql)
{
    public string Checksum { get; } = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Normalise(Sql))));

    public string Id => $"{Version:D4}_{Name}";

    // Line endings must not change the checksum of a file checked out on another OS.
    private static string Normalise(string sql) => sql.Replace("\r\n", "\n", StringComparison.Ordinal);
}

/// <summary>The ordered migrations a build carries (embedded from <c>db/migrations</c>).</summary>
public sealed partial class MigrationSet
{
    public MigrationSet(IEnumerable<Migration> migrations)
    {
        Migrations = [.. migrations.OrderBy(m => m.Version)];
        var duplicate = Migrations.GroupBy(m => m.Version).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new MigrationException($"Two migrations share version {duplicate.Key}: {string.Join(", ", duplicate.Select(m => m.Id))}.");
        }
    }

    public IReadOnlyList<Migration> Migrations { get; }

    public static MigrationSet Embedded { get; } = FromAssembly(typeof(MigrationSet).Assembly);

    public static MigrationSet FromAssembly(System.Reflection.Assembly assembly)
    {
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith("migrations/", StringComparison.Ordinal))
            {
                continue;
            }

            var fileName = resource["migrations/".Length..];
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            migrations.Add(Parse(fileName, reader.ReadToEnd()));
        }

        return new MigrationSet(migrations);
    }

    public static Migration Parse(string fileName, string sql)
    {
        var match = FileNamePattern().Match(fileName);
        if (!match.Success)
        {
            throw new MigrationException($"Migration file '{fileName}' is not named NNNN_name.sql.");
        }

        return new Migration(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), match.Groups[2].Value, sql);
    }

    [GeneratedRegex(@"^(\d{4})_([a-z0-9_]+)\.sql$")]
    private static partial Regex FileNamePattern();
}

public sealed class MigrationException(string message) : Exception(message);
