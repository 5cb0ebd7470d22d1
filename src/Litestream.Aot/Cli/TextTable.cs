namespace Litestream.Aot.Cli;

/// <summary>
/// Space-aligned columns like upstream's <c>tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)</c>: every column
/// but the last is as wide as its widest cell plus two spaces, so scripts that split upstream's output on
/// whitespace read ours the same way.
/// </summary>
internal sealed class TextTable
{
    private const int Padding = 2;
    private readonly List<string[]> _rows = [];

    public TextTable(params string[] header) => _rows.Add(header);

    public void Add(params string[] cells) => _rows.Add(cells);

    public void WriteTo(TextWriter writer)
    {
        int columns = _rows.Max(r => r.Length);
        int[] widths = new int[columns];
        foreach (string[] row in _rows)
        {
            for (int i = 0; i < row.Length - 1; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }
        foreach (string[] row in _rows)
        {
            for (int i = 0; i < row.Length - 1; i++)
            {
                writer.Write(row[i].PadRight(widths[i] + Padding));
            }
            writer.WriteLine(row.Length > 0 ? row[^1] : "");
        }
    }
}
