using System.Linq;
using System.Text;

namespace Litestream.Generators;

/// <summary>Config key spelling shared by both generators: C# property names become upstream's kebab-case keys.</summary>
internal static class KeyNames
{
    /// <summary>Lowercase words joined by single dashes, as litestream.yml keys are.</summary>
    public static bool IsKebabCase(string key)
        => key.Length > 0 && key[0] != '-' && key[key.Length - 1] != '-' && !key.Contains("--")
            && key.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-');

    /// <summary><c>SyncInterval</c> → <c>sync-interval</c>, <c>L0Retention</c> → <c>l0-retention</c>, <c>SseKmsKeyId</c> → <c>sse-kms-key-id</c>.</summary>
    public static string KebabCase(string name)
    {
        var sb = new StringBuilder(name.Length + 8);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsUpper(c))
            {
                bool afterWord = i > 0 && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]));
                bool endsAcronym = i > 0 && char.IsUpper(name[i - 1]) && i + 1 < name.Length && char.IsLower(name[i + 1]);
                if (afterWord || endsAcronym)
                {
                    sb.Append('-');
                }
                sb.Append(char.ToLowerInvariant(c));
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }
}
