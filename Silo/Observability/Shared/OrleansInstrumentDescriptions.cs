using System.Diagnostics.Metrics;

namespace OrleansCompute.Observability;

/// <summary>
/// Help text for Orleans' instruments, which Orleans publishes without any: Prometheus requires it
/// (<c>promtool check metrics</c>), and an operator needs it to read a dashboard.
/// </summary>
public static class OrleansInstrumentDescriptions
{
    private static readonly Dictionary<string, string> Known = new(StringComparer.Ordinal)
    {
        ["orleans-app-requests-latency"] = "Orleans: time from sending an application grain request to its response.",
        ["orleans-app-requests-timedout"] = "Orleans: application grain requests that timed out.",
        ["orleans-app-requests-canceled"] = "Orleans: application grain requests that were cancelled.",
        ["orleans-catalog-activations"] = "Orleans: grain activations on this silo.",
        ["orleans-catalog-activation-created"] = "Orleans: grain activations created on this silo.",
        ["orleans-catalog-activation-destroyed"] = "Orleans: grain activations destroyed on this silo.",
        ["orleans-catalog-activation-latency"] = "Orleans: time to activate a grain (OnActivateAsync included).",
        ["orleans-catalog-deactivation-latency"] = "Orleans: time to deactivate a grain.",
        ["orleans-catalog-activation-working-set"] = "Orleans: activations that received a message recently (the working set).",
        ["orleans-catalog-activation-failed-to-activate"] = "Orleans: grain activations that failed.",
        ["orleans-catalog-activation-collections"] = "Orleans: idle activations collected.",
        ["orleans-catalog-activation-shutdown"] = "Orleans: activations deactivated because their silo shut down.",
        ["orleans-client-connected-gateways"] = "Orleans client: gateways (silos) this client is connected to.",
        ["orleans-consistent-ring-size"] = "Orleans: silos in the consistent hash ring.",
        ["orleans-consistent-ring-range-percentage-local"] = "Orleans: percentage of the hash ring this silo owns.",
        ["orleans-consistent-ring-range-percentage-average"] = "Orleans: average percentage of the hash ring a silo owns.",
        ["orleans-directory-cache-size"] = "Orleans: entries in this silo's grain directory cache.",
        ["orleans-directory-partition-size"] = "Orleans: grain registrations in this silo's directory partition.",
        ["orleans-directory-registrations"] = "Orleans: grain registrations made in the directory.",
        ["orleans-directory-registration-duration"] = "Orleans: time to register a grain activation in the directory.",
        ["orleans-directory-range-lock-held-duration"] = "Orleans: time the distributed directory held a range lock.",
        ["orleans-directory-lookups-cache-issued"] = "Orleans: directory lookups served from the cache, attempted.",
        ["orleans-directory-lookups-cache-successes"] = "Orleans: directory lookups served from the cache, found.",
        ["orleans-directory-ring-size"] = "Orleans: silos in the directory ring.",
        ["orleans-directory-ring-local-portion-distance"] = "Orleans: size of the directory ring range this silo owns.",
        ["orleans-directory-ring-local-portion-percentage"] = "Orleans: percentage of the directory ring this silo owns.",
        ["orleans-directory-ring-local-portion-average-percentage"] = "Orleans: average percentage of the directory ring a silo owns.",
        ["orleans-gateway-connected-clients"] = "Orleans: clients (Api instances) connected to this silo's gateway.",
        ["orleans-gateway-received"] = "Orleans: messages this silo's gateway received from clients.",
        ["orleans-gateway-sent"] = "Orleans: messages this silo's gateway sent to clients.",
        ["orleans-gateway-load-shedding"] = "Orleans: client messages the gateway refused while overloaded.",
        ["orleans-grains"] = "Orleans: grain activations on this silo, by grain type.",
        ["orleans-system-targets"] = "Orleans: system targets on this silo.",
        ["orleans-messaging-sent-messages-size"] = "Orleans: size of messages sent.",
        ["orleans-messaging-received-messages-size"] = "Orleans: size of messages received.",
        ["orleans-messaging-sent-header-size"] = "Orleans: bytes of message headers sent.",
        ["orleans-messaging-received-header-size"] = "Orleans: bytes of message headers received.",
        ["orleans-messaging-sent-local"] = "Orleans: messages sent to grains in the same process.",
        ["orleans-messaging-sent-failed"] = "Orleans: messages that could not be sent.",
        ["orleans-messaging-sent-dropped"] = "Orleans: messages dropped before they were sent.",
        ["orleans-messaging-rejected"] = "Orleans: messages rejected by their receiver.",
        ["orleans-messaging-rerouted"] = "Orleans: messages rerouted to another silo.",
        ["orleans-messaging-expired"] = "Orleans: messages that expired before they were delivered.",
        ["orleans-messaging-processing-dispatcher-received"] = "Orleans: messages the dispatcher received.",
        ["orleans-messaging-processing-dispatcher-processed"] = "Orleans: messages the dispatcher processed.",
        ["orleans-messaging-processing-dispatcher-forwarded"] = "Orleans: messages the dispatcher forwarded to another silo.",
        ["orleans-messaging-processing-ima-received"] = "Orleans: incoming messages received.",
        ["orleans-messaging-processing-ima-enqueued"] = "Orleans: incoming messages queued for a grain.",
        ["orleans-messaging-processing-activation-data"] = "Orleans: activations with messages being processed.",
        ["orleans-networking-sockets-opened"] = "Orleans: network connections opened.",
        ["orleans-networking-sockets-closed"] = "Orleans: network connections closed.",
        ["orleans-reminders-active"] = "Orleans: reminders this silo is responsible for.",
        ["orleans-reminders-tardiness"] = "Orleans: how late reminder ticks were delivered.",
        ["orleans-reminders-ticks-delivered"] = "Orleans: reminder ticks delivered.",
        ["orleans-storage-read-latency"] = "Orleans: time to read grain state from storage.",
        ["orleans-storage-write-latency"] = "Orleans: time to write grain state to storage.",
        ["orleans-storage-clear-latency"] = "Orleans: time to clear grain state in storage.",
        ["orleans-storage-read-errors"] = "Orleans: grain state reads that failed.",
        ["orleans-storage-write-errors"] = "Orleans: grain state writes that failed.",
        ["orleans-storage-clear-errors"] = "Orleans: grain state clears that failed.",
        ["orleans-transactions-started"] = "Orleans: transactions started.",
        ["orleans-transactions-successful"] = "Orleans: transactions committed.",
        ["orleans-transactions-failed"] = "Orleans: transactions that failed.",
        ["orleans-transactions-throttled"] = "Orleans: transactions throttled.",
        ["orleans-watchdog-health-checks"] = "Orleans: health checks the silo watchdog ran.",
        ["orleans-watchdog-health-checks-failed"] = "Orleans: health checks the silo watchdog found failing.",
        ["orleans-scheduler-long-running-turns"] = "Orleans: grain turns that ran longer than expected.",
    };

    /// <summary>The instrument's own description, ours, or one made from its name.</summary>
    public static string Describe(Instrument instrument) =>
        !string.IsNullOrWhiteSpace(instrument.Description) ? instrument.Description
        : Known.TryGetValue(instrument.Name, out var known) ? known
        : "Orleans: " + instrument.Name.Replace("orleans-", "", StringComparison.Ordinal).Replace('-', ' ') + ".";
}
