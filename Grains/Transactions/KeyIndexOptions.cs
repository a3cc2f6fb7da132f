namespace OrleansCompute.Grains.Transactions;

/// <summary>The shape of transactional tables' key indexes (configuration section <c>Transactions:KeyIndex</c>).</summary>
public sealed class KeyIndexOptions
{
    /// <summary>
    /// Most keys in one index leaf. A create or delete rewrites one leaf, so this bounds its cost;
    /// a scan or count reads one leaf per this many keys.
    /// </summary>
    public int LeafKeys { get; set; } = 512;
}
