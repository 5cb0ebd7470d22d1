using System.Diagnostics;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// <c>restore</c> through the fault proxy when the server stops sending and never closes: while planning (the
/// listing gets no answer) or while fetching a file (no response, or a body that stops halfway). With short
/// stall limits it fails within one limit with an <c>error:</c> line naming the object and exit code 1; with the
/// default limits (a minute) a SIGINT or SIGTERM ends it within seconds with 128 + the signal. Neither
/// leaves an output file behind.
/// </summary>
[Requires(Need.Python)]
public class S3RestoreStallTests
{
    private static readonly Dictionary<string, string> s_credentials = new()
    {
        ["LITESTREAM_ACCESS_KEY_ID"] = S3rver.Credential,
        ["LITESTREAM_SECRET_ACCESS_KEY"] = S3rver.Credential,
    };

    /// <summary>Which requests stall: every one (the restore stalls while planning), or only the GETs of LTX files.</summary>
    public static TheoryData<FaultProxy.Fault, bool> Stalls => new()
    {
        { FaultProxy.Fault.StallAtConnect, false },
        { FaultProxy.Fault.StallInHeaders, true },
        { FaultProxy.Fault.StallInBody, true },
    };

    /// <summary>A database replicated once to s3rver at path "db" (one small snapshot file).</summary>
    private static string Replicate(S3rver s3, string dir)
    {
        string db = Path.Combine(dir, "app.db");
        SqliteWriter.Write(db, new Workload { Commits = 500, Pad = 800 });
        ProcessResult once = Exe.Run(s_credentials, "replicate", "-once", db, s3.Url("db"));
        Assert.True(once.ExitCode == 0, once.Stderr);
        return db;
    }

    private static Func<string, bool>? Requests(bool ltxOnly) => ltxOnly ? r => r.StartsWith("GET ", StringComparison.Ordinal) && r.Contains(".ltx", StringComparison.Ordinal) : null;

    private static string ProxiedUrl(S3rver s3, FaultProxy proxy) => s3.Url("db").Replace(s3.Endpoint, proxy.Endpoint, StringComparison.Ordinal);

    [RequiresTheory(Need.Exe, Need.S3rver)]
    [MemberData(nameof(Stalls))]
    public async Task Restore_ServerStalls_FailsWithinOneLimit_NamingTheObject(FaultProxy.Fault fault, bool ltxOnly)
    {
        using var s3 = new S3rver();
        string dir = TestRepo.TempDir();
        Replicate(s3, dir);
        await using var proxy = new FaultProxy(s3.Port);
        proxy.Inject(fault, Requests(ltxOnly));
        var env = new Dictionary<string, string>(s_credentials) { ["LITESTREAM_STORAGE_RESPONSE_TIMEOUT"] = "3s", ["LITESTREAM_STORAGE_IDLE_TIMEOUT"] = "3s" };
        string output = Path.Combine(dir, "out.db");
        var clock = Stopwatch.StartNew();
        using BackgroundProcess restore = Exe.Start(env, "restore", "-o", output, ProxiedUrl(s3, proxy));
        int? code = restore.WaitForExit(TimeSpan.FromMinutes(2));

        Assert.True(code is not null, $"restore still running 2 min into a stall with 3 s limits: {restore.Output}");
        Assert.Equal(1, code);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"restore took {clock.Elapsed}");
        string expected = (fault, ltxOnly) switch
        {
            (FaultProxy.Fault.StallAtConnect, false) => $@"^error: s3: list s3://{S3rver.Bucket}/db/0000/: stalled: no response for 3s$",
            (FaultProxy.Fault.StallInHeaders, true) => $@"^error: s3: get object s3://{S3rver.Bucket}/db/0000/0000000000000001-0000000000000001\.ltx: stalled: no response for 3s$",
            _ => $@"^error: s3: get object s3://{S3rver.Bucket}/db/0000/0000000000000001-0000000000000001\.ltx: stalled: response body: no data for 3s$",
        };
        Assert.Matches(expected, restore.Output.Split('\n')[0]);
        Assert.Equal(1, proxy.Faults);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(output + ".tmp"));
    }

    [RequiresTheory(Need.Exe, Need.S3rver)]
    [InlineData(FaultProxy.Fault.StallAtConnect, false, "INT", 130)]
    [InlineData(FaultProxy.Fault.StallInBody, true, "INT", 130)]
    [InlineData(FaultProxy.Fault.StallInHeaders, true, "TERM", 143)]
    public async Task Restore_ServerStalls_SignalEndsItWithinTwoSeconds(FaultProxy.Fault fault, bool ltxOnly, string signal, int exitCode)
    {
        using var s3 = new S3rver();
        string dir = TestRepo.TempDir();
        Replicate(s3, dir);
        await using var proxy = new FaultProxy(s3.Port);
        proxy.Inject(fault, Requests(ltxOnly));
        string output = Path.Combine(dir, "out.db");
        // The default limits (a minute): only the signal can end the restore this soon.
        using BackgroundProcess restore = Exe.Start(s_credentials, "restore", "-o", output, ProxiedUrl(s3, proxy));
        await Wait.UntilAsync(() => proxy.Stalled > 0 || restore.HasExited, "the proxy to stall the restore");
        Assert.False(restore.HasExited, $"restore ended before the stall: {restore.Output}");
        await Task.Delay(300); // well into the stall: the signal must end a wait already under way, not one about to start
        var clock = Stopwatch.StartNew();
        Assert.Equal(0, Processes.Run("kill", [$"-{signal}", restore.Pid.ToString()]).ExitCode);
        int? code = restore.WaitForExit(TimeSpan.FromMinutes(2));
        Assert.True(code is not null, "restore still running 2 min after the signal");
        // Far under the minute the default limits would take (a busy machine may take seconds to schedule the exit).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"restore took {clock.Elapsed} to stop");
        Assert.Equal(exitCode, code);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(output + ".tmp"));
    }
}
