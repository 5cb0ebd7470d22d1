namespace Litestream.Hosting.Tests.Fixtures;

/// <summary>Runs the dotnet CLI and the programs it builds inside the repository checkout.</summary>
public static class Repo
{
    /// <summary>Runs a program from the checkout's root to completion (at most <paramref name="timeout"/>): exit code and both outputs.</summary>
    public static (int Code, string Output) Run(string exe, IEnumerable<string> args, TimeSpan timeout)
    {
        ProcessResult r = Processes.Run(exe, args, timeout, workingDirectory: TestRepo.Root);
        return (r.ExitCode, r.Output);
    }
}
