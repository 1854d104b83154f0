using System.Buffers;
using System.Text;
using Analytics.Redis.Internal;
using Shouldly;

namespace Analytics.Redis.Tests;

public class ProtocolTests
{
    [Fact]
    public void Encodes_commands_as_arrays_of_bulk_strings()
    {
        var builder = new CommandBuilder("SET", 4);
        try
        {
            builder.Add("kéy");
            builder.Add([0, 13, 10, 255]);
            builder.Add(-42L);
            builder.Add(double.NegativeInfinity);

            builder.WrittenSpan.ToArray().ShouldBe(
                Encoding.UTF8.GetBytes("*5\r\n$3\r\nSET\r\n$4\r\nkéy\r\n$4\r\n")
                    .Concat(new byte[] { 0, 13, 10, 255 })
                    .Concat(Encoding.ASCII.GetBytes("\r\n$3\r\n-42\r\n$4\r\n-inf\r\n"))
                    .ToArray());
        }
        finally
        {
            builder.Dispose();
        }
    }

    [Fact]
    public void Grows_the_buffer_for_large_arguments()
    {
        var value = new byte[100_000];
        Random.Shared.NextBytes(value);
        var builder = new CommandBuilder("SET", 2);
        try
        {
            builder.Add("k");
            builder.Add(value);

            builder.WrittenSpan[^100_002..^2].SequenceEqual(value).ShouldBeTrue();
        }
        finally
        {
            builder.Dispose();
        }
    }

    [Theory]
    [InlineData("+OK\r\n", "OK")]
    [InlineData("-ERR bad thing\r\n", "(error) ERR bad thing")]
    [InlineData(":-12\r\n", "-12")]
    [InlineData("$5\r\nhello\r\n", "hello")]
    [InlineData("$0\r\n\r\n", "")]
    [InlineData("$-1\r\n", "(nil)")]
    [InlineData("*-1\r\n", "(nil)")]
    [InlineData("*0\r\n", "[]")]
    [InlineData("*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+x\r\n", "[1, [a, (nil)], x]")]
    public void Parses_every_reply_type(string wire, string expected)
    {
        Parse(Encoding.UTF8.GetBytes(wire)).ToString().ShouldBe(expected);
    }

    [Fact]
    public void Waits_for_more_data_at_every_split_point()
    {
        var wire = Encoding.UTF8.GetBytes("*3\r\n:1\r\n*2\r\n$5\r\nab\r\nc\r\n$-1\r\n-ERR x\r\n");
        var expected = Parse(wire);

        for (var split = 0; split < wire.Length; split++)
        {
            var partial = new ReadOnlySequence<byte>(wire, 0, split);
            var reader = new SequenceReader<byte>(partial);
            RespParser.TryRead(ref reader, out _).ShouldBeFalse($"split at {split}");

            Parse(wire, split).ShouldBe(expected);
        }
    }

    [Fact]
    public void Rejects_garbage()
    {
        Should.Throw<InvalidDataException>(() => Parse("?what\r\n"u8.ToArray()));
        Should.Throw<InvalidDataException>(() => Parse("$3\r\nabcXY"u8.ToArray()));
        Should.Throw<InvalidDataException>(() => Parse(":12a\r\n"u8.ToArray()));
    }

    [Fact]
    public void Rejects_arrays_nested_deeper_than_the_limit()
    {
        static byte[] Nested(int depth) =>
            Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("*1\r\n", depth)) + ":7\r\n");

        Parse(Nested(RespParser.MaxDepth)).ToString().ShouldContain("7");
        Should.Throw<InvalidDataException>(() => Parse(Nested(RespParser.MaxDepth + 1))).Message.ShouldContain("nested");

        // Also while the reply is still incomplete: the connection fails instead of recursing without bound.
        var deep = Nested(10_000);
        var partial = new ReadOnlySequence<byte>(deep, 0, deep.Length - 3);
        Should.Throw<InvalidDataException>(() =>
        {
            var reader = new SequenceReader<byte>(partial);
            RespParser.TryRead(ref reader, out _);
        });
    }

    [Fact]
    public void An_incomplete_large_array_is_scanned_without_allocating()
    {
        var wire = Encoding.ASCII.GetBytes(
            $"*10000\r\n{string.Concat(Enumerable.Range(0, 10_000).Select(i => $"${i.ToString(System.Globalization.CultureInfo.InvariantCulture).Length}\r\n{i}\r\n"))}");
        var partial = new ReadOnlySequence<byte>(wire, 0, wire.Length - 1);

        TryReadPartial(partial).ShouldBeFalse(); // warm-up
        var before = GC.GetAllocatedBytesForCurrentThread();
        TryReadPartial(partial).ShouldBeFalse();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        allocated.ShouldBeLessThan(1024);
        Parse(wire).AsArray()!.Count.ShouldBe(10_000);

        static bool TryReadPartial(ReadOnlySequence<byte> partial)
        {
            var reader = new SequenceReader<byte>(partial);
            return RespParser.TryRead(ref reader, out _);
        }
    }

    private static RedisResult Parse(byte[] wire, int splitAt = -1)
    {
        var sequence = splitAt <= 0 ? new ReadOnlySequence<byte>(wire) : TwoSegments(wire, splitAt);
        var reader = new SequenceReader<byte>(sequence);
        RespParser.TryRead(ref reader, out var result).ShouldBeTrue();
        reader.End.ShouldBeTrue();
        return result;
    }

    private static ReadOnlySequence<byte> TwoSegments(byte[] wire, int splitAt)
    {
        var first = new Segment(wire.AsMemory(0, splitAt), 0);
        var second = new Segment(wire.AsMemory(splitAt), splitAt);
        first.SetNext(second);
        return new ReadOnlySequence<byte>(first, 0, second, second.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public void SetNext(Segment next) => Next = next;
    }
}
