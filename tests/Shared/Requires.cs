using System.Reflection;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Litestream.Testing;

/// <summary>
/// A fact that needs <see cref="Needs"/> (and whatever a <see cref="RequiresAttribute"/> on its class adds). When one is
/// missing the test is skipped with that prerequisite's reason, or, with LITESTREAM_TEST_STRICT=1, fails with it
/// (a by-design mode such as long mode stays a skip). With nothing missing it is a plain fact.
/// </summary>
[XunitTestCaseDiscoverer("Litestream.Testing.RequiresFactDiscoverer", "Litestream.Testing")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class RequiresFactAttribute(params Need[] needs) : FactAttribute
{
    public IReadOnlyList<Need> Needs { get; } = needs;
}

/// <summary>A theory with prerequisites: <see cref="RequiresFactAttribute"/> for data-driven tests (its rows are built only when every one is met).</summary>
[XunitTestCaseDiscoverer("Litestream.Testing.RequiresTheoryDiscoverer", "Litestream.Testing")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class RequiresTheoryAttribute(params Need[] needs) : TheoryAttribute
{
    public IReadOnlyList<Need> Needs { get; } = needs;
}

/// <summary>
/// Prerequisites of every <see cref="RequiresFactAttribute"/>/<see cref="RequiresTheoryAttribute"/> test in a class,
/// inherited ones included: a conformance suite declares its tests once on an abstract base, and the derived
/// class for a backend says what that backend needs (s3rver).
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = true)]
public sealed class RequiresAttribute(params Need[] needs) : Attribute
{
    public IReadOnlyList<Need> Needs { get; } = needs;
}

/// <summary>Discovers <see cref="RequiresFactAttribute"/> tests.</summary>
public sealed class RequiresFactDiscoverer(IMessageSink diagnosticMessageSink) : FactDiscoverer(diagnosticMessageSink)
{
    private readonly IMessageSink _sink = diagnosticMessageSink;

    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
        => RequiresDiscovery.Unmet(_sink, discoveryOptions, testMethod, factAttribute) is { } unmet ? [unmet] : base.Discover(discoveryOptions, testMethod, factAttribute);
}

/// <summary>Discovers <see cref="RequiresTheoryAttribute"/> tests.</summary>
public sealed class RequiresTheoryDiscoverer(IMessageSink diagnosticMessageSink) : TheoryDiscoverer(diagnosticMessageSink)
{
    private readonly IMessageSink _sink = diagnosticMessageSink;

    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute)
        => RequiresDiscovery.Unmet(_sink, discoveryOptions, testMethod, theoryAttribute) is { } unmet ? [unmet] : base.Discover(discoveryOptions, testMethod, theoryAttribute);
}

/// <summary>The one place that turns a missing prerequisite into a skipped or (strict) failed test case.</summary>
internal static class RequiresDiscovery
{
    /// <summary>A skipped or failing test case standing for the whole method when a prerequisite is missing; null when all are met.</summary>
    public static IXunitTestCase? Unmet(IMessageSink sink, ITestFrameworkDiscoveryOptions options, ITestMethod testMethod, IAttributeInfo attribute)
    {
        IEnumerable<Need> needs = Needs(attribute).Concat(testMethod.TestClass.Class.ToRuntimeType()
            .GetCustomAttributes<RequiresAttribute>(inherit: true).SelectMany(r => r.Needs));
        if (Prerequisites.FirstUnmet(needs) is not { } missing)
        {
            return null;
        }
        TestMethodDisplay display = options.MethodDisplayOrDefault();
        TestMethodDisplayOptions displayOptions = options.MethodDisplayOptionsOrDefault();
        return Prerequisites.Strict && !missing.ByDesign
            ? new ExecutionErrorTestCase(sink, display, displayOptions, testMethod, $"{missing.Reason} ({Prerequisites.StrictVariable}=1: a missing prerequisite fails)")
            : new XunitSkippedDataRowTestCase(sink, display, displayOptions, testMethod, missing.Reason);
    }

    private static IEnumerable<Need> Needs(IAttributeInfo attribute) => (attribute as IReflectionAttributeInfo)?.Attribute switch
    {
        RequiresFactAttribute fact => fact.Needs,
        RequiresTheoryAttribute theory => theory.Needs,
        _ => [],
    };
}
