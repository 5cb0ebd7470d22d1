using System.CommandLine;
using System.CommandLine.Help;
using System.Runtime.InteropServices;
using Litestream.Aot.Cli;
using Litestream.Aot.Cli.Reference;
using Litestream.Aot.Config;

namespace Litestream.Aot;

/// <summary>
/// argv → command → exit code. Exit codes: 0 ok, 1 runtime error, 2 usage error, 128 + the signal's number
/// (130 SIGINT, 143 SIGTERM) for a command a signal interrupted.
/// </summary>
internal static class Program
{
    public const int ExitOk = 0;
    public const int ExitError = 1;
    public const int ExitUsage = 2;

    private static async Task<int> Main(string[] args)
    {
        // The runtime has just rebuilt its type data from the file (reading 3 MB nothing reads again) and run its own
        // start-up code: give those pages back before the command faults in its own, so they do not add up in the
        // peak RSS (issue 22: `version` 14.8 -> MEASURED MB).
        StartupPages.Release();
        _ = Libc.LimitMallocArenas();
        // Like Go's signal.Notify, which upstream calls for both: an inherited SIG_IGN would make the handlers
        // below dead, and `nohup litestream replicate &` would ignore Ctrl-C and kill -INT. First, before the
        // console initializes .NET's signal handling (which records the disposition once).
        Libc.Unignore(Libc.SigInt);
        Libc.Unignore(Libc.SigTerm);
        SQLitePCL.raw.SetProvider(new SQLitePCL.SQLite3Provider_e_sqlite3());
        Console.SetOut(RedactingWriter.Wrap(Console.Out));
        Console.SetError(RedactingWriter.Wrap(Console.Error));
        using var shutdown = new CancellationTokenSource();
        // SIGINT/SIGTERM cancel the one root token. A command whose normal stop is a signal (replicate,
        // restore -f once following) flushes and returns its own code; any other command it cuts short fails
        // with OperationCanceledException and exits 128 + the signal's number, as a shell reports a kill.
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel(shutdown));
        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel(shutdown));
        // A write past the file size limit (ulimit -f) then fails with EFBIG, which is reported, instead of
        // killing the process and leaving its temp file (Go's runtime ignores SIGXFSZ too).
        using PosixSignalRegistration sigxfsz = PosixSignalRegistration.Create((PosixSignal)Libc.SigXfsz, static context => context.Cancel = true);

        RootCommand root = BuildRoot();
        var parserConfiguration = new ParserConfiguration { ResponseFileTokenReplacer = null };
        if (args.Length == 0)
        {
            // Like upstream: a bare `litestream` shows the commands, and is still a usage error.
            await root.Parse(["-h"], parserConfiguration).InvokeAsync(cancellationToken: shutdown.Token).ConfigureAwait(false);
            return ExitUsage;
        }
        ParseResult parse = root.Parse(RewriteHelpCommand(args), parserConfiguration);
        if (UsageErrors.Find(parse) is { } usage)
        {
            return Fail($"error: {usage.Message}", $"hint: {usage.Hint}", ExitUsage);
        }
        try
        {
            MemoryBudget.Apply(Environment.GetEnvironmentVariable(MemoryBudget.Variable));
            GcReport.Start(Environment.GetEnvironmentVariable(GcReport.Variable));
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }, shutdown.Token).ConfigureAwait(false);
        }
        catch (UsageException e)
        {
            return Fail($"error: {e.Message}", e.Hint is null ? null : $"hint: {e.Hint}", ExitUsage);
        }
        catch (CommandException e)
        {
            return Fail($"error: {e.Message}", e.Hint is null ? null : $"hint: {e.Hint}", ExitError);
        }
        catch (ConfigException e)
        {
            return Fail($"error: {e.Message}", $"hint: {e.Hint ?? "fix the config file; see https://litestream.io/reference/config/"}", ExitError);
        }
        catch (OperationCanceledException e) when (shutdown.IsCancellationRequested)
        {
            PosixSignal signal = Interruption.Received ?? PosixSignal.SIGTERM;
            string outcome = e is CommandInterruptedException interrupted ? $": {interrupted.Message}" : "";
            return Fail($"error: {parse.CommandResult.Command.Name} interrupted by {Interruption.Name(signal)}{outcome}", null, Interruption.ExitCode(signal));
        }
        catch (Exception e)
        {
            return Fail($"error: {Errors.Describe(e)}", Errors.Hint(e) is { } hint ? $"hint: {hint}" : null, ExitError);
        }
    }

    internal static RootCommand BuildRoot()
    {
        var root = new RootCommand("litestream: continuous SQLite replication (Litestream v0.5 compatible, NativeAOT)");
        root.Subcommands.Add(ReplicateCommand.Build());
        root.Subcommands.Add(RestoreCommand.Build());
        root.Subcommands.Add(LtxCommand.Build());
        root.Subcommands.Add(LtxCommand.BuildWal());
        root.Subcommands.Add(DatabasesCommand.Build());
        root.Subcommands.Add(VersionCommand.Build());
        root.Subcommands.Add(StatusCommand.Build());
        root.Subcommands.Add(ResetCommand.Build());
        root.Subcommands.Add(ReencryptCommand.Build());
        foreach (Command control in ControlCommands.Build())
        {
            root.Subcommands.Add(control);
        }
        root.Subcommands.Add(EventsCommand.Build());
        root.Subcommands.Add(LagCommand.Build());
        root.Subcommands.Add(CompletionCommand.Build());
        root.Subcommands.Add(ManCommand.Build());
        // `litestream --version` (and -version) print what `litestream version` prints, not the assembly version.
        VersionOption versionOption = root.Options.OfType<VersionOption>().Single();
        versionOption.Aliases.Add("-version");
        versionOption.Action = new VersionCommand.PrintAction();
        HelpOption help = root.Options.OfType<HelpOption>().Single();
        help.Action = new DocumentedHelpAction((HelpAction)help.Action!);
        return root;
    }

    /// <summary>Upstream's `litestream help` shows the usage; `litestream help CMD` that of CMD.</summary>
    private static string[] RewriteHelpCommand(string[] args) => args switch
    {
        ["help"] => ["-h"],
        ["help", string command] => [command, "-h"],
        _ => args,
    };

    private static Action<PosixSignalContext> Cancel(CancellationTokenSource source) => context =>
    {
        context.Cancel = true;
        // Recorded first: a command the cancellation ends reports which signal it was.
        Interruption.Signalled(context.Signal);
        source.Cancel();
    };

    private static int Fail(string message, string? hint, int code)
    {
        Console.Error.WriteLine(message.ReplaceLineEndings(" "));
        if (hint is not null)
        {
            Console.Error.WriteLine(hint);
        }
        return code;
    }
}
