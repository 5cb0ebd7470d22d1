using System.CommandLine;
using System.CommandLine.Completions;
using System.Globalization;

namespace Litestream.Aot.Cli.Reference;

/// <summary>
/// One option: <see cref="Flag"/> is upstream's single-dash spelling (<c>-txid</c>, <c>-h</c>), <see cref="LongFlag"/>
/// the <c>--txid</c> form every option also answers to; <see cref="ValueName"/> is null for a switch.
/// </summary>
internal sealed record OptionReference(string Flag, string LongFlag, string Description, string? ValueName, IReadOnlyList<string> Values, string? DefaultValue)
{
    public bool TakesValue => ValueName is not null;

    /// <summary>The value is a file (<c>-o PATH</c>, <c>-config PATH</c>): shells complete file names there.</summary>
    public bool TakesPath => ValueName is not null && CommandReference.NamesPath(ValueName);

    public static OptionReference From(Option option)
    {
        string longFlag = option.Name.StartsWith("--", StringComparison.Ordinal) ? option.Name
            : option.Aliases.FirstOrDefault(a => a.StartsWith("--", StringComparison.Ordinal)) ?? option.Name;
        // The help option's aliases are -h, /h, -? and /?: the flag is the first single-dash one that is a word.
        string flag = option.Aliases.Where(a => a.Length > 1 && a[0] == '-' && a[1] != '-' && char.IsLetterOrDigit(a[1])).FirstOrDefault() ?? longFlag;
        bool takesValue = option.Arity.MinimumNumberOfValues > 0;
        string? valueName = takesValue ? option.HelpName ?? longFlag.TrimStart('-').ToUpperInvariant() : null;
        IReadOnlyList<string> values = takesValue ? [.. option.GetCompletions(CompletionContext.Empty).Select(c => c.Label)] : [];
        string? defaultValue = takesValue && option.HasDefaultValue ? Convert.ToString(option.GetDefaultValue(), CultureInfo.InvariantCulture) : null;
        return new OptionReference(flag, longFlag, option.Description ?? "", valueName, values, defaultValue);
    }
}
