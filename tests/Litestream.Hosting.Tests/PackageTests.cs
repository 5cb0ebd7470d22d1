using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;
using Litestream.Hosting.Tests.Fixtures;

namespace Litestream.Hosting.Tests;

/// <summary>
/// <c>dotnet pack</c> of the three libraries: each package carries its README, the Apache-2.0 license expression,
/// the project URL, the repository URL and source commit, the dll with its XML docs, a symbols package (.snupkg) with
/// the PDB that dll names, and depends on the packages beneath it only.
/// </summary>
public sealed class PackageTests
{
    private static readonly string s_version = typeof(Litestream.Replication.Store).Assembly.GetName().Version!.ToString(3);

    /// <summary>The one place the repository URL is written (Directory.Build.props); the nuspec must carry it.</summary>
    private static readonly string s_repositoryUrl = XDocument.Load(TestRepo.Path("Directory.Build.props")).Descendants("RepositoryUrl").Single().Value;

    [RequiresFact(Need.Repo)]
    public void Pack_Libraries_PackagesCarryReadmeLicenseUrlsSourceDocsAndSymbols()
    {
        using var dir = new TempDirectory();
        foreach (string project in new[] { "Litestream.Ltx", "Litestream", "Litestream.Hosting" })
        {
            (int code, string log) = Repo.Run("dotnet", ["pack", TestRepo.Path("src", project, project + ".csproj"), "-c", "Release", "-o", dir.Path, "-nologo"], TimeSpan.FromMinutes(15));
            Assert.True(code == 0, $"pack {project} failed:\n{log}");
        }

        Assert.Equal(
            [$"Litestream.{s_version}.nupkg", $"Litestream.Hosting.{s_version}.nupkg", $"Litestream.Ltx.{s_version}.nupkg"],
            Directory.GetFiles(dir.Path, "*.nupkg").Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(
            [$"Litestream.{s_version}.snupkg", $"Litestream.Hosting.{s_version}.snupkg", $"Litestream.Ltx.{s_version}.snupkg"],
            Directory.GetFiles(dir.Path, "*.snupkg").Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(["K4os.Compression.LZ4"], CheckPackage(dir, "Litestream.Ltx"));
        Assert.Equal(["AWSSDK.S3", "BouncyCastle.Cryptography", "Litestream.Ltx", "Microsoft.Data.Sqlite.Core", "Microsoft.Extensions.Logging.Abstractions", "SQLitePCLRaw.provider.e_sqlite3", "SSH.NET"],
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
        Assert.Equal("https://litestream.io/", metadata.Element(ns + "projectUrl")!.Value);
        XElement repository = metadata.Element(ns + "repository")!;
        Assert.Equal("git", repository.Attribute("type")!.Value);
        Assert.StartsWith("https://", s_repositoryUrl);
        Assert.Equal(s_repositoryUrl, repository.Attribute("url")!.Value);
        Assert.Matches("^[0-9a-f]{40}$", repository.Attribute("commit")!.Value);

        // The symbols package holds the portable PDB the dll's CodeView entry names (same id), which symbol servers serve.
        using ZipArchive symbols = ZipFile.OpenRead(Path.Combine(dir.Path, $"{id}.{s_version}.snupkg"));
        Assert.Equal([$"lib/net10.0/{id}.pdb"], symbols.Entries.Select(e => e.FullName).Where(e => e.StartsWith("lib/", StringComparison.Ordinal)));
        using (MemoryStream dll = Read(zip, $"lib/net10.0/{id}.dll"))
        using (MemoryStream pdb = Read(symbols, $"lib/net10.0/{id}.pdb"))
        using (var pe = new PEReader(dll))
        using (MetadataReaderProvider pdbReader = MetadataReaderProvider.FromPortablePdbStream(pdb))
        {
            DebugDirectoryEntry codeView = pe.ReadDebugDirectory().Single(d => d.Type == DebugDirectoryEntryType.CodeView);
            BlobContentId pdbId = new(pdbReader.GetMetadataReader().DebugMetadataHeader!.Id);
            Assert.Equal(pe.ReadCodeViewDebugDirectoryData(codeView).Guid, pdbId.Guid);
            Assert.DoesNotContain(pe.ReadDebugDirectory(), d => d.Type == DebugDirectoryEntryType.EmbeddedPortablePdb);
        }

        return [.. metadata.Descendants(ns + "dependency").Select(d => d.Attribute("id")!.Value).Distinct().Order(StringComparer.Ordinal)];
    }

    private static MemoryStream Read(ZipArchive zip, string entry)
    {
        var copy = new MemoryStream();
        using (Stream stream = zip.GetEntry(entry)!.Open())
        {
            stream.CopyTo(copy);
        }
        copy.Position = 0;
        return copy;
    }
}
