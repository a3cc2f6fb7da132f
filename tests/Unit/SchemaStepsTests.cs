using OrleansCompute.Silo.Storage;

namespace OrleansCompute.Tests.Unit;

public class SchemaStepsTests
{
    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public void Steps_are_embedded_in_order_with_stable_checksums(string store)
    {
        var steps = SchemaMigrator.StepsFor(store);

        Assert.NotEmpty(steps);
        Assert.Equal(steps.Select(s => s.Id).Order(StringComparer.Ordinal), steps.Select(s => s.Id));
        Assert.Equal(steps.Select(s => s.Checksum), SchemaMigrator.StepsFor(store).Select(s => s.Checksum));
    }

    // Every query key the Orleans 10.4 providers read must be installed, or the silo fails at start.
    [Theory]
    [InlineData("postgres", "InsertMembershipVersionKey", "UpdateIAmAlivetimeKey", "InsertMembershipKey", "UpdateMembershipKey",
        "MembershipReadRowKey", "MembershipReadAllKey", "DeleteMembershipTableEntriesKey", "CleanupDefunctSiloEntriesKey", "GatewaysQueryKey",
        "ReadFromStorageKey", "WriteToStorageKey", "ClearStorageKey", "DeleteStorageKey",
        "UpsertReminderRowKey", "ReadReminderRowsKey", "ReadReminderRowKey", "ReadRangeRows1Key", "ReadRangeRows2Key",
        "DeleteReminderRowKey", "DeleteReminderRowsKey")]
    [InlineData("sqlite", "ReadFromStorageKey", "WriteToStorageKey", "ClearStorageKey", "DeleteStorageKey",
        "UpsertReminderRowKey", "ReadReminderRowsKey", "ReadReminderRowKey", "ReadRangeRows1Key", "ReadRangeRows2Key",
        "DeleteReminderRowKey", "DeleteReminderRowsKey")]
    public void Every_provider_query_key_is_installed(string store, params string[] keys)
    {
        var sql = string.Concat(SchemaMigrator.StepsFor(store).Select(s => s.Sql));

        Assert.All(keys, key => Assert.Contains($"('{key}'", sql));
    }
}
