namespace Litestream.Aot.Directories;

/// <summary>
/// A file-name pattern with Go's <c>filepath.Match</c> syntax, as upstream matches a <c>dir:</c> entry's <c>pattern</c>
/// against each file's base name: <c>*</c> (any run), <c>?</c> (one character), <c>[abc]</c>, <c>[a-z]</c>,
/// <c>[^a-z]</c> and <c>\</c> escapes. A malformed pattern is refused when it is created, not at the first match.
/// </summary>
internal sealed class GlobPattern
{
    private readonly string _pattern;

    private GlobPattern(string pattern) => _pattern = pattern;

    /// <summary>The pattern as written.</summary>
    public override string ToString() => _pattern;

    /// <summary>Parses <paramref name="pattern"/>; false when it is malformed (an unclosed class, a trailing escape, '/').</summary>
    public static bool TryCreate(string pattern, out GlobPattern glob)
    {
        glob = new GlobPattern(pattern);
        return pattern.Length > 0 && !pattern.Contains('/') && glob.Validate();
    }

    /// <summary>Whether <paramref name="name"/> (a base name) matches.</summary>
    public bool IsMatch(string name) => Match(name, 0, 0) == MatchResult.Match;

    private enum MatchResult { NoMatch, Match, Bad }

    private bool Validate()
    {
        for (int p = 0; p < _pattern.Length;)
        {
            char c = _pattern[p];
            if (c == '\\')
            {
                if (p + 1 >= _pattern.Length)
                {
                    return false;
                }
                p += 2;
            }
            else if (c == '[')
            {
                if (MatchClass('\0', p, out p) == MatchResult.Bad)
                {
                    return false;
                }
            }
            else
            {
                p++;
            }
        }
        return true;
    }

    private MatchResult Match(string name, int p, int n)
    {
        while (p < _pattern.Length)
        {
            char c = _pattern[p];
            if (c == '*')
            {
                while (p < _pattern.Length && _pattern[p] == '*')
                {
                    p++;
                }
                for (int i = n; i <= name.Length; i++)
                {
                    MatchResult rest = Match(name, p, i);
                    if (rest != MatchResult.NoMatch)
                    {
                        return rest;
                    }
                }
                return MatchResult.NoMatch;
            }
            if (n >= name.Length)
            {
                return MatchResult.NoMatch;
            }
            switch (c)
            {
                case '?':
                    p++;
                    break;
                case '[':
                    MatchResult inClass = MatchClass(name[n], p, out p);
                    if (inClass != MatchResult.Match)
                    {
                        return inClass;
                    }
                    break;
                case '\\':
                    if (p + 1 >= _pattern.Length)
                    {
                        return MatchResult.Bad;
                    }
                    if (_pattern[p + 1] != name[n])
                    {
                        return MatchResult.NoMatch;
                    }
                    p += 2;
                    break;
                default:
                    if (c != name[n])
                    {
                        return MatchResult.NoMatch;
                    }
                    p++;
                    break;
            }
            n++;
        }
        return n == name.Length ? MatchResult.Match : MatchResult.NoMatch;
    }

    /// <summary>Matches <paramref name="ch"/> against the class starting at <paramref name="p"/> ('['); <paramref name="end"/> is just past its ']'.</summary>
    private MatchResult MatchClass(char ch, int p, out int end)
    {
        end = p;
        p++;
        bool negated = p < _pattern.Length && _pattern[p] == '^';
        if (negated)
        {
            p++;
        }
        bool matched = false;
        bool first = true;
        while (true)
        {
            if (p >= _pattern.Length)
            {
                return MatchResult.Bad;
            }
            if (_pattern[p] == ']' && !first)
            {
                p++;
                break;
            }
            first = false;
            if (!TryClassChar(ref p, out char lo))
            {
                return MatchResult.Bad;
            }
            char hi = lo;
            if (p < _pattern.Length && _pattern[p] == '-')
            {
                p++;
                if (!TryClassChar(ref p, out hi))
                {
                    return MatchResult.Bad;
                }
            }
            matched |= lo <= ch && ch <= hi;
        }
        end = p;
        return matched != negated ? MatchResult.Match : MatchResult.NoMatch;
    }

    private bool TryClassChar(ref int p, out char c)
    {
        c = '\0';
        if (p >= _pattern.Length || _pattern[p] is '-' or ']')
        {
            return false;
        }
        if (_pattern[p] == '\\')
        {
            p++;
            if (p >= _pattern.Length)
            {
                return false;
            }
        }
        c = _pattern[p++];
        return true;
    }
}
