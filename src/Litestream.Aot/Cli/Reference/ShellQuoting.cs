namespace Litestream.Aot.Cli.Reference;

/// <summary>Quoting for the generated scripts: POSIX single quotes (bash, zsh) and fish's, which escape inside.</summary>
internal static class ShellQuoting
{
    /// <summary><c>it's</c> → <c>'it'\''s'</c>: nothing inside single quotes is special to bash or zsh.</summary>
    public static string Posix(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>Fish reads <c>\\</c> and <c>\'</c> inside single quotes as escapes.</summary>
    public static string Fish(string text) => "'" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
}
