using System.Diagnostics;
using OpenTelemetry;

namespace OrleansCompute.Observability;

/// <summary>
/// Keeps keys and values out of spans (docs/observability.md, Traces). Orleans tags each call with
/// its grain ids (<c>orleans.rpc.target_id</c>), and a transactional key's grain id contains the key; ASP.NET Core tags the
/// request path, which contains it too. The grain ids are removed, and the path becomes the
/// route template (<c>/v1/tables/{table}/keys/{**key}</c>).
/// </summary>
public sealed class RedactingProcessor : BaseProcessor<Activity>
{
    // Orleans 10 names them orleans.rpc.*; earlier versions rpc.orleans.*.
    private static readonly string[] Removed = ["orleans.rpc.target_id", "orleans.rpc.source_id", "rpc.orleans.target_id", "rpc.orleans.source_id"];

    /// <inheritdoc />
    public override void OnEnd(Activity data)
    {
        foreach (var tag in Removed)
        {
            if (data.GetTagItem(tag) is not null)
            {
                data.SetTag(tag, null);
            }
        }

        if (data.GetTagItem("url.path") is not null)
        {
            data.SetTag("url.path", data.GetTagItem("http.route") as string);
        }
    }
}
