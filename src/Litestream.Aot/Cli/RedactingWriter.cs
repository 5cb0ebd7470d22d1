using System.Text;
using Litestream.Storage;

namespace Litestream.Aot.Cli;

/// <summary>
/// Standard output and error as the exe writes them: whole lines go through <see cref="Redaction.Apply"/> before
/// they reach the terminal, so no command output, log line or error message prints a credential, whoever built
/// it. Lines are held until their newline, so a secret written in pieces is still seen whole; what is left at
/// exit is flushed.
/// </summary>
internal sealed class RedactingWriter : TextWriter
{
    private readonly TextWriter _inner;
    private readonly StringBuilder _pending = new();

    private RedactingWriter(TextWriter inner) => _inner = inner;

    public override Encoding Encoding => _inner.Encoding;

    /// <summary>A thread-safe redacting writer over <paramref name="inner"/>, flushed when the process exits.</summary>
    public static TextWriter Wrap(TextWriter inner)
    {
        TextWriter writer = Synchronized(new RedactingWriter(inner));
        AppDomain.CurrentDomain.ProcessExit += (_, _) => writer.Flush();
        return writer;
    }

    public override void Write(char value)
    {
        _pending.Append(value);
        if (value == '\n')
        {
            WriteLines();
        }
    }

    public override void Write(char[] buffer, int index, int count) => Write(buffer.AsSpan(index, count));

    public override void Write(ReadOnlySpan<char> buffer)
    {
        _pending.Append(buffer);
        if (buffer.Contains('\n'))
        {
            WriteLines();
        }
    }

    public override void Write(string? value) => Write(value.AsSpan());

    public override void WriteLine(string? value)
    {
        _pending.Append(value).Append(CoreNewLine);
        WriteLines();
    }

    public override void Flush()
    {
        if (_pending.Length > 0)
        {
            _inner.Write(Redaction.Apply(_pending.ToString()));
            _pending.Clear();
        }
        _inner.Flush();
    }

    /// <summary>Writes every complete line held; keeps the unfinished rest.</summary>
    private void WriteLines()
    {
        string text = _pending.ToString();
        int end = text.LastIndexOf('\n') + 1;
        _inner.Write(Redaction.Apply(text[..end]));
        _inner.Flush();
        _pending.Remove(0, end);
    }
}
