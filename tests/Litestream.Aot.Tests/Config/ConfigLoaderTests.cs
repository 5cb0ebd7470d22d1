using Litestream.Aot.Config;
using Litestream.Storage;

namespace Litestream.Aot.Tests.Config;

public class ConfigLoaderTests
{
    private const string Base = "/cfg";

    public static TheoryData<string, string> MalformedConfigs => new()
    {
        { "dbs:\n  - path: /a.db\n    replica:\n      url: file:///r\n      sync-intervall: 1s\n", "dbs[0].replica.sync-intervall: unknown key (line 5)" },
        { "dbs:\n  - path: /a.db\n    replica:\n      url: file:///r\n      sync-interval: 5x\n", "dbs[0].replica.sync-interval: invalid duration \"5x\"" },
        { "dbs:\n  - path: /a.db\n    replica:\n      url: file:///r\n      age:\n        identities: [x]\n", "dbs[0].replica.age.identities[0]: age identity on line 1 is not a valid AGE-SECRET-KEY-1… string" },
        { "dbs:\n  - path: /a.db\n    replica:\n      url: file:///r\n      age:\n        identities: [\"\"]\n", "dbs[0].replica.age.identities[0]: no age identity found (expected AGE-SECRET-KEY-1…)" },
        { "dbs:\n  - path: /a.db\n    replica:\n      url: file:///r\n      age:\n        keys: [x]\n", "dbs[0].replica.age.keys: unknown key (line 6)" },
        { "dbs:\n  - replica:\n      url: file:///r\n", "dbs[0]: must specify either 'path' or 'dir'" },
        { "dbs:\n  - path: /a.db\n", "dbs[0]: replica required" },
        { "dbs:\n  - path: /a.db\n    replica:\n      url: ftp://x/y\n", "dbs[0].replica.url: unknown replica url scheme \"ftp\" in \"ftp://x/y\"" },
        { "dbs:\n  - path: /a.db\n    replicas:\n      - url: file:///r\n      - url: file:///s\n", "dbs[0].replicas[1].name: duplicate replica name \"file\"" },
        { "dbs:\n  - path: /a.db\n    replicas:\n      - {name: x, url: file:///r}\n      - {name: x, url: s3://b/p}\n", "dbs[0].replicas[1].name: duplicate replica name \"x\"" },
        { "dbs:\n  - path: /a.db\n    replicas:\n      - {name: \"\", url: file:///r}\n", "dbs[0].replicas[0].name: empty name" },
        { "dbs:\n  - path: /a.db\n    replicas: []\n", "dbs[0].replicas: empty list" },
        { "dbs:\n  - path: /a.db\n    replica: {url: file:///q}\n    replicas:\n      - url: file:///r\n", "dbs[0]: cannot specify both 'replica' and 'replicas'" },
        { "dbs:\n  - path: /a.db\n    replicas:\n      - {name: a, url: file:///r}\n      - {name: b, type: file}\n", "dbs[0].replicas[1]: file replica requires a path or url" },
        { "dbs:\n  - path: /a.db\n    monitor-interval: often\n    replica: {url: file:///r}\n", "dbs[0].monitor-interval: invalid duration \"often\"" },
        { "dbs:\n  - path: /a.db\n    max-sync-wal-bytes: lots\n    replica: {url: file:///r}\n", "dbs[0].max-sync-wal-bytes: invalid size \"lots\"" },
        { "dbs:\n  - path: /a.db\n    min-checkpoint-page-count: -5\n    replica: {url: file:///r}\n", "dbs[0].min-checkpoint-page-count: invalid number \"-5\"" },
        { "dbs:\n  - path: /a.db\n    replica: {url: file:///r, force-path-style: maybe}\n", "dbs[0].replica.force-path-style: invalid boolean \"maybe\"" },
        { "levels:\n  - interval: 0s\ndbs: []\n", "levels[0].interval: must be positive" },
        { "levels:\n  - every: 1s\n", "levels[0].every: unknown key (line 2)" },
        { "snapshot:\n  interval: 1d\n", "snapshot.interval: invalid duration \"1d\"" },
        { "logging:\n  level: loud\n", "logging.level: invalid log level \"loud\"" },
        { "dbs:\n  - path: /a.db\n    replica: {url: file:///r}\n  - path: /a.db\n    replica: {url: file:///s}\n", "dbs[1].path: duplicate database path \"/a.db\"" },
        { "dbs:\n  - path: /a.db\n    replica: {type: s3, url: file:///r}\n", "dbs[0].replica.type: replica type \"s3\" does not match url scheme \"file\"" },
        { "dbs:\n  - path: /a.db\n    replica: {type: tape, path: /r}\n", "dbs[0].replica.type: unknown replica type \"tape\"" },
        { "dbs:\n  - path: /a.db\n    replica: {type: file}\n", "dbs[0].replica: file replica requires a path or url" },
        { "dbs: {path: /a.db}\n", "dbs: expected a list (line 1)" },
        { "dbs:\n  - path: [a, b]\n", "dbs[0].path: expected a value, not a list (line 2)" },
        { "socket:\n  enabled: yes please\n", "socket.enabled: invalid boolean \"yes please\"" },
        { "socket:\n  permissions: 0800\n", "socket.permissions: invalid permissions \"0800\": expected an octal mode like 0600" },
        { "socket:\n  port: 1\n", "socket.port: unknown key (line 2)" },
        { "heartbeat-url: ftp://example.com/ping\n", "heartbeat-url: heartbeat URL must be a valid HTTP or HTTPS URL" },
        { "heartbeat-url: example.com/ping\n", "heartbeat-url: heartbeat URL must be a valid HTTP or HTTPS URL" },
        { "heartbeat-url: https://example.com/ping\nheartbeat-interval: 30s\n", "heartbeat-interval: heartbeat interval must be at least 1 minute" },
        { "bogus: 1\n", "bogus: unknown key (line 1)" },
        { "dbs:\n  - path: /a.db\n    dir: /data\n", "dbs[0]: cannot specify both 'path' and 'dir'" },
        { "dbs:\n  - dir: /data\n    replica: {url: file:///r}\n", "dbs[0].pattern: required when using 'dir' (e.g. pattern: \"*.db\")" },
        { "dbs:\n  - dir: /data\n    pattern: \"[a-\"\n", "dbs[0].pattern: invalid pattern \"[a-\": a file-name glob such as *.db, *.sqlite or tenant-?.db" },
        { "dbs:\n  - dir: /data\n    pattern: \"x/*.db\"\n", "dbs[0].pattern: invalid pattern \"x/*.db\": a file-name glob such as *.db, *.sqlite or tenant-?.db" },
        { "dbs:\n  - path: /a.db\n    watch: true\n", "dbs[0]: 'pattern', 'recursive' and 'watch' can only be used with 'dir'" },
        { "dbs:\n  - dir: /d\n    pattern: \"*\"\n    replica: {url: file:///r}\n  - dir: /d\n    pattern: \"*.db\"\n    replica: {url: file:///s}\n", "dbs[1].dir: duplicate database dir \"/d\"" },
        { "dbs:\n  - path: /a.db\n   replica: x\n", "invalid yaml at line 3: While parsing a block collection, did not find expected '-' indicator." },
    };

    [Theory]
    [MemberData(nameof(MalformedConfigs))]
    public void Parse_MalformedConfig_ExactMessage(string yaml, string message)
        => Assert.Equal(message, Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, Base)).Message);

    [Fact]
    public void Parse_DirEntry_EachDatabaseGetsItsRelativeReplicaPathAndMetaPath()
    {
        LitestreamConfig config = ConfigLoader.Parse("dbs:\n  - dir: data\n    pattern: \"*.db\"\n    recursive: true\n    watch: true\n    meta-path: /meta\n    replica: {url: \"s3://bucket/backups?region=eu-west-1\"}\n  - dir: /f\n    pattern: \"*.sqlite\"\n    replica: {path: /r}\n", Base);
        DbConfig dir = config.Dbs[0];
        Assert.Equal(("/cfg/data", "*.db", true, true, null), (dir.Dir, dir.Pattern, dir.Recursive, dir.Watch, dir.Path));
        DbConfig db = dir.ForDatabase("/cfg/data/eu/t1.db");
        Assert.Equal(("/cfg/data/eu/t1.db", null, "eu/t1.db", "/meta/eu/.t1.db-litestream"), (db.Path, db.Dir, db.RelativePath, db.MetaPath));
        ReplicaSettings settings = db.ToReplicaSettings(config.ReplicaDefaults);
        Assert.Equal(("backups/eu/t1.db", "s3://bucket/backups/eu/t1.db?region=eu-west-1"), (settings.Path, settings.Url));
        Assert.Equal("/r/x/y.sqlite", config.Dbs[1].ForDatabase("/f/x/y.sqlite").ToReplicaSettings(config.ReplicaDefaults).Path);
    }

    [Theory]
    [InlineData("*.db", "a.db", true)]
    [InlineData("*.db", "a.db-wal", false)]
    [InlineData("tenant-?.db", "tenant-7.db", true)]
    [InlineData("tenant-?.db", "tenant-77.db", false)]
    [InlineData("[a-c]*.sqlite", "b1.sqlite", true)]
    [InlineData("[^a-c]*.sqlite", "b1.sqlite", false)]
    [InlineData("\\*.db", "*.db", true)]
    [InlineData("\\*.db", "a.db", false)]
    [InlineData("*", ".hidden", true)]
    public void GlobPattern_IsMatch_AsGoFilepathMatch(string pattern, string name, bool matches)
    {
        Assert.True(Directories.GlobPattern.TryCreate(pattern, out Directories.GlobPattern glob));
        Assert.Equal(matches, glob.IsMatch(name));
    }

    [Theory]
    [InlineData("socket: {enabled: true, path: run/ls.sock, permissions: 0660}\n", true, "/cfg/run/ls.sock", 0b110_110_000)]
    [InlineData("socket: {enabled: true, permissions: 0o700}\n", true, "/var/run/litestream.sock", 0b111_000_000)]
    [InlineData("socket: {path: /tmp/x.sock, permissions: 384}\n", false, "/tmp/x.sock", 0b110_000_000)]
    [InlineData("addr: \":9090\"\n", false, "/var/run/litestream.sock", 0b110_000_000)]
    public void Parse_Socket_BindsEnabledPathAndOctalPermissions(string yaml, bool enabled, string path, int mode)
    {
        LitestreamConfig config = ConfigLoader.Parse(yaml, Base);
        Assert.Equal((enabled, path, (UnixFileMode)mode), (config.SocketEnabled, config.SocketPath, config.SocketPermissions));
    }

    [Fact]
    public void Parse_FullConfig_BindsEveryValue()
    {
        LitestreamConfig config = ConfigLoader.Parse("""
            addr: ":9090"
            levels: [{interval: 10s}, {interval: 2m}]
            snapshot: {interval: 12h, retention: 72h}
            l0-retention: 1m
            retention: {enabled: false}
            shutdown-sync-timeout: 5s
            access-key-id: GLOBALKEY
            region: eu-west-1
            dbs:
              - path: data/app.db
                monitor-interval: 250ms
                max-sync-wal-bytes: 8MiB
                truncate-page-n: 5000
                replica:
                  url: s3://bkt/app?endpoint=http://127.0.0.1:9000
                  sync-interval: 2s
                  part-size: 10MB
              - path: sqlite:///abs/b.db
                replicas:
                  - path: /backups/b
            """, Base);
        Assert.Equal(":9090", config.Addr);
        Assert.Equal([TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(2)], config.Levels);
        Assert.Equal((TimeSpan.FromHours(12), TimeSpan.FromHours(72), TimeSpan.FromMinutes(1), false, TimeSpan.FromSeconds(5)),
            (config.SnapshotInterval, config.SnapshotRetention, config.L0Retention, config.RetentionEnabled, config.ShutdownSyncTimeout));
        DbConfig app = config.Dbs[0];
        Assert.Equal(("/cfg/data/app.db", TimeSpan.FromMilliseconds(250), 8L * 1024 * 1024, 5000), (app.Path, app.MonitorInterval, app.MaxSyncWalBytes, app.TruncatePageN));
        Assert.Equal(TimeSpan.FromSeconds(2), app.Replica!.SyncInterval);
        ReplicaSettings s3 = app.Replica.ToSettings(config.ReplicaDefaults);
        Assert.Equal(("s3", "app"), (s3.Type, s3.Path));
        Assert.Equal("access-key-id=GLOBALKEY bucket=bkt endpoint=http://127.0.0.1:9000 part-size=10000000 region=eu-west-1",
            string.Join(' ', s3.Options.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key}={o.Value}")));
        Assert.Equal("/abs/b.db", config.Dbs[1].Path);
        ReplicaSettings file = config.Dbs[1].Replica!.ToSettings(config.ReplicaDefaults);
        Assert.Equal(("file", "/backups/b"), (file.Type, file.Path));
    }

    [Fact]
    public void Parse_ReplicasList_EveryReplicaWithItsNameDefaultingToTheType_FirstIsTheReplica()
    {
        LitestreamConfig config = ConfigLoader.Parse("""
            dbs:
              - path: /a.db
                replicas:
                  - url: file:///backups/a
                  - {name: east, url: "s3://bkt/a?endpoint=http://127.0.0.1:9000", sync-interval: 5s}
                  - {type: sftp, host: "127.0.0.1:22", user: u, path: /a}
            """, Base);
        DbConfig db = config.Dbs[0];
        IReadOnlyList<ReplicaConfig> sections = db.ReplicaSections();
        Assert.Equal(["file", "east", "sftp"], sections.Select(r => r.DisplayName(config.ReplicaDefaults)));
        Assert.Same(sections[0], db.Replica);
        Assert.Equal(TimeSpan.FromSeconds(5), sections[1].SyncInterval);
        Assert.Equal(["file", "s3", "sftp"], sections.Select(r => db.ToReplicaSettings(config.ReplicaDefaults, r).Type));
        Assert.Equal("/backups/a", db.ToReplicaSettings(config.ReplicaDefaults, sections[0]).Path);
    }

    [Fact]
    public void Parse_BothReplicaAndReplicas_HintSaysWhatToChange()
    {
        ConfigException e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("dbs:\n  - path: /a.db\n    replica: {url: file:///q}\n    replicas: [{url: file:///r}]\n", Base));
        Assert.Equal("move the replica: section into the replicas: list, each with its own name:", e.Hint);
    }

    [Theory]
    [InlineData("path: ../demo/replica", "/demo/replica")]
    [InlineData("path: replica", "/cfg/replica")]
    [InlineData("url: ../demo/replica", "/demo/replica")]
    [InlineData("url: file://../demo/replica", "/demo/replica")]
    [InlineData("url: file://./replica", "/cfg/replica")]
    [InlineData("url: file:///abs/replica", "/abs/replica")]
    [InlineData("path: /abs/replica", "/abs/replica")]
    public void Parse_FileReplicaRelativePath_ResolvesAgainstTheConfigsDirectory(string key, string expected)
    {
        // Issue 18 item 2: the database path resolved against the config's folder, its replica against the working directory.
        LitestreamConfig config = ConfigLoader.Parse($"dbs:\n  - path: ../demo/app.db\n    replica:\n      {key}\n", Base);
        ReplicaSettings settings = config.Dbs[0].Replica!.ToSettings(config.ReplicaDefaults);
        Assert.Equal(("/demo/app.db", "file", expected), (config.Dbs[0].Path, settings.Type, settings.Path));
    }

    [Fact]
    public void Parse_DirEntryAndItsFileReplica_ResolveAgainstTheConfigsDirectory()
    {
        LitestreamConfig config = ConfigLoader.Parse("dbs:\n  - dir: ../data\n    pattern: '*.db'\n    replica:\n      path: ../backups\n", Base);
        DbConfig entry = config.Dbs[0];
        Assert.Equal("/data", entry.Dir);
        Assert.Equal("/backups/a.db", entry.ForDatabase("/data/a.db").ToReplicaSettings(config.ReplicaDefaults).Path);
    }

    [Fact]
    public void Parse_TopLevelFileReplicaPath_ResolvesAgainstTheConfigsDirectory()
    {
        LitestreamConfig config = ConfigLoader.Parse("type: file\npath: backups\ndbs:\n  - path: a.db\n", Base);
        Assert.Equal("/cfg/backups", (config.Dbs[0].Replica ?? new ReplicaConfig()).ToSettings(config.ReplicaDefaults).Path);
    }

    [Fact]
    public void Parse_ObjectStorePath_StaysAKeyPrefix()
    {
        LitestreamConfig config = ConfigLoader.Parse("dbs:\n  - path: a.db\n    replica: {type: s3, bucket: b, path: app/db}\n", Base);
        Assert.Equal("app/db", config.Dbs[0].Replica!.ToSettings(config.ReplicaDefaults).Path);
    }

    [Fact]
    public void Parse_EnvExpansion_UnlessDisabled()
    {
        Environment.SetEnvironmentVariable("LS_TEST_BUCKET_PATH", "/from/env");
        string yaml = "dbs:\n  - path: /a.db\n    replica:\n      type: file\n      path: \"${LS_TEST_BUCKET_PATH}/x\"\n";
        Assert.Equal("/from/env/x", ConfigLoader.Parse(yaml, Base).Dbs[0].Replica!.Path);
        Assert.Equal("${LS_TEST_BUCKET_PATH}/x", ConfigLoader.Parse(yaml, Base, expandEnv: false).Dbs[0].Replica!.Path);
    }

    [Fact]
    public void Parse_Empty_DefaultsOnly()
    {
        LitestreamConfig config = ConfigLoader.Parse("", Base);
        Assert.Empty(config.Dbs);
        Assert.Equal([TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(5), TimeSpan.FromHours(1)], config.Levels);
    }

    [Fact]
    public void ResolvePath_ExplicitThenEnvThenDefault()
    {
        Assert.Equal("/x.yml", ConfigLoader.ResolvePath("/x.yml"));
        Environment.SetEnvironmentVariable("LITESTREAM_CONFIG", "/env.yml");
        try
        {
            Assert.Equal("/env.yml", ConfigLoader.ResolvePath(null));
        }
        finally
        {
            Environment.SetEnvironmentVariable("LITESTREAM_CONFIG", null);
        }
        Assert.Equal("/etc/litestream.yml", ConfigLoader.ResolvePath(null));
    }
}

public class ConfigValuesTests
{
    [Theory]
    [InlineData("1s", 1_000)]
    [InlineData("500ms", 500)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("0", 0)]
    [InlineData("24h", 86_400_000)]
    public void TryParseDuration_GoSyntax(string text, long milliseconds)
    {
        Assert.True(ConfigValues.TryParseDuration(text, out TimeSpan value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData("5x")]
    [InlineData("1d")]
    [InlineData("s")]
    [InlineData("")]
    public void TryParseDuration_Invalid(string text) => Assert.False(ConfigValues.TryParseDuration(text, out _));

    [Theory]
    [InlineData("5MiB", 5L * 1024 * 1024)]
    [InlineData("1MB", 1_000_000L)]
    [InlineData("64 mb", 64_000_000L)]
    [InlineData("4096", 4096L)]
    public void TryParseSize_Humanize(string text, long bytes)
    {
        Assert.True(ConfigValues.TryParseSize(text, out long value));
        Assert.Equal(bytes, value);
    }

    [Fact]
    public void ExpandEnvironment_GoOsExpandRules()
    {
        var env = new Dictionary<string, string> { ["A"] = "1", ["LONG_NAME"] = "two" };
        Assert.Equal("1-two--$", ConfigValues.ExpandEnvironment("$A-${LONG_NAME}-$MISSING-$", k => env.GetValueOrDefault(k)));
    }
}

/// <summary>Backend keys in litestream.yml: declared by each backend's folder, checked by kind at bind time.</summary>
public class ReplicaBackendKeyTests
{
    private const string Base = "/cfg";

    [Fact]
    public void Parse_AbsKeys_ReachTheBackend_DefaultsUnderExplicit()
    {
        LitestreamConfig config = ConfigLoader.Parse("""
            account-name: globalacct
            dbs:
              - path: /a.db
                replica:
                  url: abs://urlacct@box/app
                  account-key: a2V5
                  sas-token: "?sv=1&sig=x"
                  endpoint: http://127.0.0.1:10000/urlacct
                  skip-verify: yes
                  part-size: 64MiB
            """, Base);
        ReplicaSettings s = config.Dbs[0].Replica!.ToSettings(config.ReplicaDefaults);
        Assert.Equal(("abs", "app"), (s.Type, s.Path));
        Assert.Equal("account-key=a2V5 account-name=urlacct bucket=box endpoint=http://127.0.0.1:10000/urlacct part-size=67108864 sas-token=?sv=1&sig=x skip-verify=true",
            string.Join(' ', s.Options.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key}={o.Value}")));
        Assert.DoesNotContain("a2V5", s.ToString());
        Assert.DoesNotContain("sig=x", s.ToString());
    }

    [Fact]
    public void Parse_WebDavKeys_ReachTheBackend_PasswordNeverPrinted()
    {
        LitestreamConfig config = ConfigLoader.Parse("""
            dbs:
              - path: /a.db
                replica:
                  type: webdav
                  webdav-url: https://dav.example.com/remote.php/dav
                  webdav-username: alice
                  webdav-password: s3cret-dav-pw
                  path: backups/app
            """, Base);
        ReplicaSettings s = config.Dbs[0].Replica!.ToSettings(config.ReplicaDefaults);
        Assert.Equal(("webdav", "backups/app"), (s.Type, s.Path));
        Assert.Equal("webdav-password=s3cret-dav-pw webdav-url=https://dav.example.com/remote.php/dav webdav-username=alice",
            string.Join(' ', s.Options.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key}={o.Value}")));
        Assert.DoesNotContain("s3cret-dav-pw", s.ToString());
    }

    [Fact]
    public void Parse_NatsKeys_DurationsAndRootCaList_ReachTheBackend()
    {
        LitestreamConfig config = ConfigLoader.Parse("""
            dbs:
              - path: /a.db
                replica:
                  url: nats://127.0.0.1:4222/bkt/app
                  token: s3cr3t-token
                  tls: true
                  root-cas: [/etc/ca1.pem, /etc/ca2.pem]
                  max-reconnects: 5
                  reconnect-wait: 500ms
                  timeout: 1m30s
            """, Base);
        ReplicaSettings s = config.Dbs[0].Replica!.ToSettings(config.ReplicaDefaults);
        Assert.Equal(("nats", "app"), (s.Type, s.Path));
        Assert.Equal("bucket=bkt|host=127.0.0.1:4222|max-reconnects=5|reconnect-wait=500ms|root-cas=/etc/ca1.pem\n/etc/ca2.pem|timeout=1m30s|tls=true|token=s3cr3t-token",
            string.Join('|', s.Options.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key}={o.Value}")));
        Assert.DoesNotContain("s3cr3t-token", s.ToString());
    }

    [Theory]
    [InlineData("timeout: soon", "dbs[0].replica.timeout: invalid duration \"soon\"")]
    [InlineData("root-cas: {a: b}", "dbs[0].replica.root-cas: expected a value, not a mapping (line 5)")]
    [InlineData("part-size: 5x", "dbs[0].replica.part-size: invalid size \"5x\"")]
    [InlineData("concurrency: many", "dbs[0].replica.concurrency: invalid number \"many\"")]
    [InlineData("force-path-style: maybe", "dbs[0].replica.force-path-style: invalid boolean \"maybe\"")]
    [InlineData("concurrent-writes: maybe", "dbs[0].replica.concurrent-writes: invalid boolean \"maybe\"")]
    [InlineData("bukket: x", "dbs[0].replica.bukket: unknown key (line 5)")]
    public void Parse_BadBackendKey_NamesPathAndValue(string line, string message)
    {
        ConfigException e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse($"dbs:\n  - path: /a.db\n    replica:\n      url: s3://bkt/db\n      {line}\n", Base));
        Assert.Equal(message, e.Message);
    }
}
