namespace Litestream.Aot.Config;

/// <summary>
/// Marks a <c>partial</c> class as a YAML config section: Litestream.Generators emits its
/// <c>Bind(ConfigNode, string, ConfigContext)</c> and <c>TryBindKey</c> from the settable properties,
/// each under its kebab-case name (<c>SyncInterval</c> → <c>sync-interval</c>) unless
/// <see cref="ConfigKeyAttribute"/> says otherwise. After binding, the optional
/// <c>partial void OnBound(string path, ConfigContext context)</c> runs for checks across keys.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ConfigSectionAttribute : Attribute
{
}

/// <summary>The YAML key of a property, where the kebab-case of its name is not upstream's spelling.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class ConfigKeyAttribute(string name) : Attribute
{
    /// <summary>The key as written in litestream.yml.</summary>
    public string Name { get; } = name;
}

/// <summary>Keys upstream accepts but this build does not implement: binding fails with "not supported yet".</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class ConfigNotSupportedAttribute(params string[] keys) : Attribute
{
    /// <summary>The keys, as written in litestream.yml.</summary>
    public string[] Keys { get; } = keys;

    /// <summary>The error text after the key path; "not supported yet" when not set.</summary>
    public string? Message { get; set; }
}

/// <summary>The section fails with "KEY required" (at the section's path) when the key is absent; the property must be nullable.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class ConfigRequiredAttribute : Attribute
{
}

/// <summary>An integer property that takes go-humanize sizes ("64MiB", "10MB", "4096").</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class ConfigSizeAttribute : Attribute
{
}

/// <summary>A string property limited to a few values; anything else fails with <see cref="Error"/>.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class ConfigOneOfAttribute(params string[] values) : Attribute
{
    /// <summary>The accepted values.</summary>
    public string[] Values { get; } = values;

    /// <summary>Compare case-insensitively (the property keeps the value as written).</summary>
    public bool IgnoreCase { get; set; }

    /// <summary>The error text after the key path, with <c>{0}</c> for the value; <c>invalid value "{0}"</c> when not set.</summary>
    public string? Error { get; set; }
}

/// <summary>
/// A section property whose keys sit at this level instead of under a key of their own (upstream's
/// top-level replica defaults): keys this section does not know are tried on it. They are bound key by
/// key, so the inline section's [ConfigRequired] and <c>OnBound</c> do not run; the owner's
/// <c>OnBound</c> checks it.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class ConfigInlineAttribute : Attribute
{
}

/// <summary>
/// Keys the section does not declare are offered to the static method <see cref="MethodName"/>
/// (<c>static bool M(TSection target, string key, ConfigNode value, string path)</c>) before they fail as unknown:
/// for keys that belong to another part of the program (a replica backend's keys, declared in its folder).
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ConfigOtherKeysAttribute(string methodName) : Attribute
{
    /// <summary>The method's name (<c>nameof(...)</c>).</summary>
    public string MethodName { get; } = methodName;
}
