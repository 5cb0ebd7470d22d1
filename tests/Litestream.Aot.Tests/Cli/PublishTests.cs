using System.Diagnostics;
using System.Xml.Linq;

namespace Litestream.Aot.Tests.Cli;

/// <summary>What ./publish.sh produces: one exe file (beside the VFS extension), SQLite inside, nothing but glibc needed at run time.</summary>
public class PublishTests
{
    [RequiresFact(Need.Exe)]
    public void Publish_IsOneFile()
        => Assert.Equal(["litestream", "litestream-vfs.so"], Directory.GetFileSystemEntries(Path.GetDirectoryName(Exe.Path)!).Select(Path.GetFileName).Order(StringComparer.Ordinal));

    [RequiresFact(Need.Exe)]
    public void Exe_NeedsOnlyGlibc_SqliteIsLinkedIn()
    {
        var psi = new ProcessStartInfo("readelf", ["-d", Exe.Path!]) { RedirectStandardOutput = true };
        using Process p = Process.Start(psi)!;
        string dynamic = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        string[] needed = [.. dynamic.Split('\n').Where(l => l.Contains("(NEEDED)")).Select(l => l[(l.IndexOf('[') + 1)..l.IndexOf(']')]).Order(StringComparer.Ordinal)];
        Assert.NotEmpty(needed);
        string[] glibc = ["ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libc.so.6", "libdl.so.2", "libm.so.6", "libpthread.so.0"];
        Assert.All(needed, lib => Assert.Contains(lib, glibc));
    }

    [RequiresFact(Need.Exe)]
    public void RdXml_HasNoDirectives()
    {
        XElement directives = XElement.Load(TestRepo.Path("rd.xml"));
        Assert.Equal("Directives", directives.Name.LocalName);
        Assert.Empty(directives.Elements());
    }

    /// <summary>A bare `dotnet publish -r linux-x64 -c Release` is the release build: the knobs live in the csproj and the
    /// NativeAot.props it imports (shared with the bench's hello-world floor), not in publish.sh.</summary>
    [RequiresFact(Need.Exe)]
    public void AotSettings_LiveInTheProjectFile()
    {
        XElement project = XElement.Load(TestRepo.Path("src", "Litestream.Aot", "Litestream.Aot.csproj"));
        XElement props = XElement.Load(TestRepo.Path("src", "Litestream.Aot", "NativeAot.props"));
        Assert.Contains(project.Elements("Import"), e => e.Attribute("Project")?.Value == "NativeAot.props");
        string Property(string name) => project.Descendants(name).Concat(props.Descendants(name)).Single().Value;
        Assert.Equal("true", Property("PublishAot"));
        Assert.Equal("true", Property("InvariantGlobalization"));
        Assert.Equal("true", Property("StripSymbols"));
        Assert.Contains(project.Descendants("DirectPInvoke"), e => e.Attribute("Include")?.Value == "e_sqlite3");
        Assert.Contains(project.Descendants("NativeLibrary"), e => e.Attribute("Include")?.Value == "$(SqliteArchive)");
        Assert.EndsWith("/libsqlite3.a", Property("SqliteArchive"));
        string publish = File.ReadAllText(TestRepo.Path("publish.sh"));
        Assert.DoesNotContain("-p:PublishAot", publish);
        Assert.DoesNotContain("-p:StripSymbols", publish);
    }
}
