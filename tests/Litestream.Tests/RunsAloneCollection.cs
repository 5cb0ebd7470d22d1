namespace Litestream.Tests;

/// <summary>
/// Tests that measure something of the whole process (its timers, <see cref="Timer.ActiveCount"/>; its resident C heap)
/// run alone, after the parallel ones: another test's threads would change what they count.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAloneCollection
{
    public const string Name = "runs alone";
}
