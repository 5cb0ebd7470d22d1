using System.Reflection;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Litestream.Tests.Fixtures;

/// <summary>
/// A fact declared once on an abstract conformance base and run for each derived class. A derived class
/// that cannot run here (its server is not installed) declares <c>public static string? SkipReason</c>;
/// a non-null value skips every inherited test with that message. A plain <see cref="FactAttribute"/>
/// cannot do this: its Skip is fixed where the base declares the method.
/// </summary>
[XunitTestCaseDiscoverer("Litestream.Tests.Fixtures.ConformanceFactDiscoverer", "Litestream.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class ConformanceFactAttribute : FactAttribute;

/// <summary>Discovers <see cref="ConformanceFactAttribute"/> tests, reading the derived class's SkipReason.</summary>
public sealed class ConformanceFactDiscoverer(IMessageSink diagnosticMessageSink) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        Type type = testMethod.TestClass.Class.ToRuntimeType();
        string? reason = type.GetProperty("SkipReason", BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly)?.GetValue(null) as string;
        TestMethodDisplay display = discoveryOptions.MethodDisplayOrDefault();
        TestMethodDisplayOptions displayOptions = discoveryOptions.MethodDisplayOptionsOrDefault();
        yield return reason is null
            ? new XunitTestCase(diagnosticMessageSink, display, displayOptions, testMethod)
            : new XunitSkippedDataRowTestCase(diagnosticMessageSink, display, displayOptions, testMethod, reason);
    }
}
