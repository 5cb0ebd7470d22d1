namespace System.Runtime.CompilerServices;

/// <summary>Lets records compile for netstandard2.0 (the type the compiler needs for init accessors).</summary>
internal static class IsExternalInit
{
}
