using OrleansCompute.Grains.Data.Placement;

namespace OrleansCompute.Tests.Unit;

public class ShardLayoutTests
{
    private static readonly string[] Silos = ["10.0.0.1:11111", "10.0.0.2:11111", "10.0.0.3:11111", "10.0.0.4:11111", "10.0.0.5:11111"];

    [Theory]
    [InlineData(12, 2)]
    [InlineData(12, 3)]
    [InlineData(16, 3)]
    [InlineData(5, 4)]
    [InlineData(1, 5)]
    [InlineData(256, 5)]
    public void Every_silo_hosts_an_even_share_of_a_table_within_one(int shards, int silos)
    {
        for (var t = 0; t < 50; t++)
        {
            var owners = ShardLayout.Assign(Guid.NewGuid(), shards, Silos[..silos]);
            var counts = Enumerable.Range(0, silos).Select(s => owners.Count(o => o == s)).ToList();
            Assert.True(counts.Max() - counts.Min() <= 1, $"{shards} shards over {silos} silos: {string.Join(",", counts)}");
        }
    }

    [Fact]
    public void The_layout_depends_on_the_set_of_silos_not_their_order()
    {
        var table = Guid.NewGuid();
        var forward = ShardLayout.Assign(table, 24, Silos[..3]);
        var reversed = ShardLayout.Assign(table, 24, [.. Silos[..3].Reverse()]);
        Assert.Equal(forward.Select(o => Silos[o]), reversed.Select(o => Silos[2 - o]));
    }

    [Fact]
    public void Remainders_of_many_tables_spread_over_all_silos()
    {
        // 100 tables of 4 shards over 3 silos: each table gives one silo a second shard; no silo may get most of them.
        var totals = new int[3];
        for (var t = 0; t < 100; t++)
        {
            foreach (var owner in ShardLayout.Assign(Guid.NewGuid(), 4, Silos[..3]))
            {
                totals[owner]++;
            }
        }

        Assert.True(totals.Max() - totals.Min() <= 40, string.Join(",", totals));
    }

    [Fact]
    public void A_joining_silo_takes_its_share_and_moves_little_else()
    {
        var moved = 0;
        var shards = 0;
        for (var t = 0; t < 100; t++)
        {
            var table = Guid.NewGuid();
            var before = ShardLayout.Assign(table, 12, Silos[..2]).Select(o => Silos[o]).ToArray();
            var after = ShardLayout.Assign(table, 12, Silos[..3]).Select(o => Silos[o]).ToArray();
            moved += before.Zip(after).Count(p => p.First != p.Second);
            shards += 12;
        }

        // The new silo's share is a third; round-robin placement would move two thirds.
        Assert.True(moved <= shards * 0.45, $"moved {moved} of {shards}");
    }

    [Fact]
    public void A_leaving_silo_moves_only_its_own_shards_and_a_few_more()
    {
        var moved = 0;
        var owned = 0;
        for (var t = 0; t < 100; t++)
        {
            var table = Guid.NewGuid();
            var before = ShardLayout.Assign(table, 12, Silos[..3]).Select(o => Silos[o]).ToArray();
            var after = ShardLayout.Assign(table, 12, Silos[..2]).Select(o => Silos[o]).ToArray();
            moved += before.Zip(after).Count(p => p.First != p.Second);
            owned += before.Count(s => s == Silos[2]);
        }

        Assert.True(moved <= owned * 1.4, $"moved {moved}, of which {owned} from the silo that left");
    }
}
