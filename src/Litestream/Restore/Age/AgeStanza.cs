namespace Litestream.Restore.Age;

/// <summary>One recipient stanza of an age header (<c>-&gt; TYPE ARG…</c> and its base64 body).</summary>
internal sealed record AgeStanza(string Type, string[] Args, byte[] Body);
