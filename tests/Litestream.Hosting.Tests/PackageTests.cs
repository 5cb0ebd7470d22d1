using System.IO.Compression;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;
using Litestream.Hosting.Tests.Fixtures;

namespace Litestream.Hosting.Tests;

/// <summary>
/// <c>dotnet pack</c> of the three libraries: each package carries its README, the Apache-2.0 license expression,
/// the source commit, the dll with its XML docs and an embedded PDB, and depends on the packages beneath it only.
/// </summary>
public sealed class PackageTests
{
    private static readonly string s_version = typeof(Litestream.Replication.Store).Assembly.GetName().Version!.ToString(3);

    [RepoFact]
    public void Pack_Libraries_PackagesCarryReadmeLicenseSourceAndDocs()
    {
        using var dir = new TempDirectory();
        foreach (string project in new[] { "Litestream.Ltx", "Litestream", "Litestream.Hosting" })
        {
            (int code, string log) = Repo.Run("dotnet", ["pack", Repo.Path("src", project, project + ".csproj"), "-c", "Release", "-o", dir.Path, "-nologo"], TimeSpan.FromMinutes(15));
            Assert.True(code == 0, $"pack {project} failed:\n{log}");
        }

        Assert.Equal(
            [$"Litestream.{s_version}.nupkg", $"Litestream.Hosting.{s_version}.nupkg", $"Litestream.Ltx.{s_version}.nupkg"],
            Directory.GetFiles(dir.Path, "*.nupkg").Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(["K4os.Compression.LZ4"], CheckPackage(dir, "Litestream.Ltx"));
        Assert.Equal(["AWSSDK.S3", "Litestream.Ltx", "Microsoft.Data.Sqlite.Core", "Microsoft.Extensions.Logging.Abstractions", "SQLitePCLRaw.provider.e_sqlite3"],
            CheckPackage(dir, "Litestream"));
        Assert.Equal(["Litestream", "Microsoft.Extensions.DependencyInjection.Abstractions", "Microsoft.Extensions.Hosting.Abstractions", "Microsoft.Extensions.Options"],
            CheckPackage(dir, "Litestream.Hosting"));
    }

    /// <summary>Checks one package's contents and metadata and returns its dependency ids, sorted.</summary>
    private static List<string> CheckPackage(TempDirectory dir, string id)
    {
        using ZipArchive zip = ZipFile.OpenRead(Path.Combine(dir.Path, $"{id}.{s_version}.nupkg"));
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("README.md", entries);
        Assert.Contains($"lib/net10.0/{id}.dll", entries);
        Assert.Contains($"lib/net10.0/{id}.xml", entries);
        Assert.DoesNotContain(entries, e => e.EndsWith(".pdb", StringComparison.Ordinal));

        using (var readme = new StreamReader(zip.GetEntry("README.md")!.Open()))
        {
            Assert.StartsWith($"# {id}\n", readme.ReadToEnd());
        }

        XDocument nuspec;
        using (Stream stream = zip.GetEntry($"{id}.nuspec")!.Open())
        {
            nuspec = XDocument.Load(stream);
        }
        XNamespace ns = nuspec.Root!.Name.Namespace;
        XElement metadata = nuspec.Root.Element(ns + "metadata")!;
        Assert.Equal(id, metadata.Element(ns + "id")!.Value);
        Assert.Equal(s_version, metadata.Element(ns + "version")!.Value);
        XElement license = metadata.Element(ns + "license")!;
        Assert.Equal("expression", license.Attribute("type")!.Value);
        Assert.Equal("Apache-2.0", license.Value);
        Assert.Equal("README.md", metadata.Element(ns + "readme")!.Value);
        Assert.False(string.IsNullOrWhiteSpace(metadata.Element(ns + "description")?.Value));
        XElement repository = metadata.Element(ns + "repository")!;
        Assert.Equal("git", repository.Attribute("type")!.Value);
        Assert.Matches("^[0-9a-f]{40}$", repository.Attribute("commit")!.Value);

        // Symbols travel inside the dll (DebugType embedded), so debuggers and stack traces need no symbol server.
        using (var dll = new MemoryStream())
        {
            using (Stream stream = zip.GetEntry($"lib/net10.0/{id}.dll")!.Open())
            {
                stream.CopyTo(dll);
            }
            dll.Position = 0;
            using var pe = new PEReader(dll);
            Assert.Contains(pe.ReadDebugDirectory(), d => d.Type == DebugDirectoryEntryType.EmbeddedPortablePdb);
        }

        return [.. metadata.Descendants(ns + "dependency").Select(d => d.Attribute("id")!.Value).Distinct().Order(StringComparer.Ordinal)];
    }
}
