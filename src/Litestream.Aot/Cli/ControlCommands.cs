using System.CommandLine;

namespace Litestream.Aot.Cli;

/// <summary>
/// Upstream's control-socket clients (start, stop, sync, register, unregister, info, list): they talk to a
/// running <c>replicate</c> daemon over <c>-socket PATH</c>. Our daemon does not serve that socket yet, so these
/// commands parse exactly upstream's flags (scripts get a clear answer, not "unknown command") and then fail
/// with one error line saying so. One file for all seven because they share everything but their flags.
/// </summary>
internal static class ControlCommands
{
    public static IEnumerable<Command> Build()
    {
        yield return Create("start", "start replication of a database on the running daemon", dbPath: true, timeout: true, json: true);
        yield return Create("stop", "stop replication of a database on the running daemon", dbPath: true, timeout: true, json: true);
        Command sync = Create("sync", "sync a database now on the running daemon", dbPath: true, timeout: true, json: false);
        sync.Options.Add(CommonOptions.Create<bool>("wait", "block until the sync reached the replica"));
        yield return sync;
        Command register = Create("register", "add a database to the running daemon", dbPath: true, timeout: true, json: true);
        register.Options.Add(CommonOptions.Create<string?>("replica", "replica URL (required)"));
        yield return register;
        Command unregister = Create("unregister", "remove a database from the running daemon", dbPath: true, timeout: true, json: true);
        unregister.Options.Add(CommonOptions.Create<bool>("dry-run", "show what would be removed"));
        yield return unregister;
        yield return Create("info", "show the running daemon's information", dbPath: false, timeout: false, json: false);
        yield return Create("list", "list the databases of the running daemon", dbPath: false, timeout: false, json: true);
    }

    private static Command Create(string name, string description, bool dbPath, bool timeout, bool json)
    {
        var command = new Command(name, description + " (needs the control socket: not in this build)");
        if (dbPath)
        {
            command.Arguments.Add(new Argument<string>("path") { Description = "database path", HelpName = "DB_PATH" });
        }
        command.Options.Add(CommonOptions.Create<string?>("socket", "control socket path (default /var/run/litestream.sock)"));
        if (timeout)
        {
            command.Options.Add(CommonOptions.CreateInt("timeout", "seconds to wait for the daemon", defaultValue: 30, minimum: 1));
        }
        if (json)
        {
            command.Options.Add(CommonOptions.Json());
        }
        command.SetAction(int (_) => throw new CommandException(
            $"litestream {name} needs the daemon's control socket, which this build does not serve yet",
            name is "start" or "stop" or "register" or "unregister"
                ? "edit the dbs: list in the config and restart 'litestream replicate'"
                : "'litestream status' shows each database's local state"));
        return command;
    }
}
