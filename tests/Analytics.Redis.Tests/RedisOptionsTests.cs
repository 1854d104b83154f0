using Shouldly;

namespace Analytics.Redis.Tests;

public class RedisOptionsTests
{
    [Fact]
    public void Parses_every_supported_option()
    {
        var options = RedisOptions.Parse(
            "redis1:6380, redis2 ,password=p=w,user=app,ssl=true,sslHost=cache.example.com,defaultDatabase=3,"
            + "connectTimeout=1500,syncTimeout=250,abortConnect=false");

        options.EndPoints.ShouldBe([new RedisEndPoint("redis1", 6380), new RedisEndPoint("redis2", RedisOptions.DefaultSslPort)]);
        options.Password.ShouldBe("p=w");
        options.User.ShouldBe("app");
        options.Ssl.ShouldBeTrue();
        options.SslHost.ShouldBe("cache.example.com");
        options.DefaultDatabase.ShouldBe(3);
        options.ConnectTimeout.ShouldBe(TimeSpan.FromMilliseconds(1500));
        options.SyncTimeout.ShouldBe(TimeSpan.FromMilliseconds(250));
        options.AbortConnect.ShouldBeFalse();
    }

    [Fact]
    public void Defaults_match_StackExchange_Redis()
    {
        var options = RedisOptions.Parse("localhost");

        options.EndPoints.ShouldBe([new RedisEndPoint("localhost", 6379)]);
        options.Password.ShouldBeNull();
        options.Ssl.ShouldBeFalse();
        options.DefaultDatabase.ShouldBe(0);
        options.ConnectTimeout.ShouldBe(TimeSpan.FromSeconds(5));
        options.SyncTimeout.ShouldBe(TimeSpan.FromSeconds(5));
        options.AbortConnect.ShouldBeTrue();
    }

    [Theory]
    [InlineData("127.0.0.1:6390", "127.0.0.1", 6390)]
    [InlineData("[::1]:7000", "::1", 7000)]
    [InlineData("[::1]", "::1", 6379)]
    [InlineData("  cache.internal  ", "cache.internal", 6379)]
    [InlineData("cache:1,", "cache", 1)]
    [InlineData("Password=secret,cache:65535", "cache", 65535)]
    [InlineData("cache:6379,ABORTCONNECT=False", "cache", 6379)]
    public void Parses_good_endpoints(string connectionString, string host, int port) =>
        RedisOptions.Parse(connectionString).EndPoints[0].ShouldBe(new RedisEndPoint(host, port));

    [Theory]
    [InlineData("", "empty")]
    [InlineData("   ", "empty")]
    [InlineData(",,", "no host:port")]
    [InlineData("password=x", "no host:port")]
    [InlineData("cache:0", "'0'")]
    [InlineData("cache:65536", "'65536'")]
    [InlineData("cache:abc", "'abc'")]
    [InlineData("cache:", "''")]
    [InlineData(":6379", "':6379'")]
    [InlineData("::1:6379", "'::1:6379'")]
    [InlineData("[::1", "'[::1'")]
    [InlineData("[::1]x", "'[::1]x'")]
    [InlineData("cache,ssl=yes", "'ssl'")]
    [InlineData("cache,defaultDatabase=-1", "'defaultDatabase'")]
    [InlineData("cache,syncTimeout=0", "'syncTimeout'")]
    [InlineData("cache,connectTimeout=fast", "'connectTimeout'")]
    [InlineData("cache,allowAdmin=true", "'allowAdmin'")]
    [InlineData("cache,user=", "'user'")]
    public void Rejects_bad_strings_naming_the_bad_part(string connectionString, string expectedInMessage)
    {
        var error = Should.Throw<RedisConfigurationException>(() => RedisOptions.Parse(connectionString));

        error.ShouldBeAssignableTo<FormatException>();
        error.Message.ShouldContain(expectedInMessage, Case.Insensitive);
    }

    [Theory]
    [InlineData("cache,password=abc,d:e:f")]
    [InlineData("cache,password=abc,def=ghi")]
    [InlineData("cache,password=abc,,ssl=def")]
    [InlineData("cache,PASSWORD=abc, [def")]
    public void A_password_containing_a_comma_is_never_echoed(string connectionString)
    {
        var error = Should.Throw<RedisConfigurationException>(() => RedisOptions.Parse(connectionString));

        error.Message.ShouldContain("after 'password='");
        error.Message.ShouldNotContain("abc");
        error.Message.ShouldNotContain("def");
        error.InnerException.ShouldBeNull();
    }

    [Fact]
    public void ToString_masks_the_password()
    {
        var text = RedisOptions.Parse("cache:6379,password=hunter2,user=app").ToString();

        text.ShouldNotContain("hunter2");
        text.ShouldContain("password=*****");
        RedisOptions.Parse(text.Replace("*****", "x", StringComparison.Ordinal)).EndPoints.ShouldHaveSingleItem();
    }
}
