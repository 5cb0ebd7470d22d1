using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Litestream.Aot.Config;

/// <summary>
/// Builds the <see cref="ConfigNode"/> tree of a config file's first document from YamlDotNet's event stream,
/// bounded against hostile files. Nesting deeper than <see cref="MaxDepth"/> and alias expansion past
/// <see cref="MaxNodes"/> nodes fail at the event that crosses the line, before anything recursive runs deep
/// (YamlDotNet's representation model recursed once per level, and 60 000 <c>[</c> overflowed the stack). An alias
/// shares its anchor's node, so memory stays linear in the file; the node budget bounds what the binders walk
/// when a few lines of nested aliases expand to billions of nodes.
/// </summary>
internal sealed class ConfigYamlReader
{
    /// <summary>Deepest nesting of mappings and lists; a real config nests four levels.</summary>
    public const int MaxDepth = 64;

    /// <summary>Most nodes the document may hold with every alias expanded; a real config has a few hundred.</summary>
    public const int MaxNodes = 100_000;

    private readonly Parser _parser;
    private readonly Dictionary<string, (ConfigNode Node, long Size)> _anchors = new(StringComparer.Ordinal);
    private long _nodes;

    private ConfigYamlReader(string text) => _parser = new Parser(new StringReader(text));

    /// <summary>The first document's root node, or null when the text holds no document.</summary>
    /// <exception cref="ConfigException">The document nests too deep, expands too far, or uses an undefined alias.</exception>
    /// <exception cref="YamlException">The text is not valid YAML.</exception>
    public static ConfigNode? ReadFirstDocument(string text)
    {
        var reader = new ConfigYamlReader(text);
        reader._parser.Consume<StreamStart>();
        if (!reader._parser.Accept<DocumentStart>(out _))
        {
            return null;
        }
        reader._parser.Consume<DocumentStart>();
        ConfigNode root = reader.ReadNode(0);
        // Like upstream's yaml.Unmarshal, later documents are not read; what follows this one must still parse.
        reader._parser.Consume<DocumentEnd>();
        return root;
    }

    private ConfigNode ReadNode(int depth)
    {
        ParsingEvent next = _parser.Consume<ParsingEvent>();
        long line = next.Start.Line;
        switch (next)
        {
            case AnchorAlias alias:
                // The name is not echoed: an unquoted secret that starts with '*' is read as an alias.
                if (!_anchors.TryGetValue(alias.Value.Value, out (ConfigNode Node, long Size) anchored))
                {
                    throw new ConfigException("", $"invalid yaml at line {line}: undefined alias (a value that starts with '*' refers to an anchor; quote it if it is text)");
                }
                Count(anchored.Size, line);
                return anchored.Node;
            case Scalar scalar:
                Count(1, line);
                return Remember(scalar.Anchor, ConfigNode.Scalar(scalar.Value, line), 1);
            case SequenceStart sequence:
            {
                long before = Enter(depth, line);
                var items = new List<ConfigNode>();
                while (!_parser.TryConsume<SequenceEnd>(out _))
                {
                    items.Add(ReadNode(depth + 1));
                }
                return Remember(sequence.Anchor, ConfigNode.List(items, line), _nodes - before);
            }
            case MappingStart mapping:
            {
                long before = Enter(depth, line);
                var entries = new List<KeyValuePair<ConfigNode, ConfigNode>>();
                var keys = new Dictionary<string, long>(StringComparer.Ordinal);
                while (!_parser.TryConsume<MappingEnd>(out _))
                {
                    ConfigNode key = ReadNode(depth + 1);
                    if (key.ScalarValue is { } name && !keys.TryAdd(name, key.Line))
                    {
                        throw new ConfigException("", $"invalid yaml at line {key.Line}: mapping key \"{name}\" already defined at line {keys[name]}");
                    }
                    entries.Add(new(key, ReadNode(depth + 1)));
                }
                return Remember(mapping.Anchor, ConfigNode.Mapping(entries, line), _nodes - before);
            }
            default:
                throw new YamlException(next.Start, next.End, $"unexpected {next.GetType().Name}");
        }
    }

    /// <summary>Counts a collection node about to be read; returns the count before it, to size an anchor.</summary>
    private long Enter(int depth, long line)
    {
        if (depth >= MaxDepth)
        {
            throw new ConfigException("", $"invalid yaml at line {line}: nested deeper than {MaxDepth} levels");
        }
        long before = _nodes;
        Count(1, line);
        return before;
    }

    private void Count(long nodes, long line)
    {
        _nodes += nodes;
        if (_nodes > MaxNodes)
        {
            throw new ConfigException("", $"invalid yaml at line {line}: aliases expand the document past {MaxNodes} nodes");
        }
    }

    private ConfigNode Remember(AnchorName anchor, ConfigNode node, long size)
    {
        if (!anchor.IsEmpty)
        {
            _anchors[anchor.Value] = (node, size);
        }
        return node;
    }
}
