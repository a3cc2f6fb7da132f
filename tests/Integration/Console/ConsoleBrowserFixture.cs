using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Playwright;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.Console;

/// <summary>
/// Two silos on PostgreSQL, the real Api on a loopback port (a browser cannot reach an in-memory
/// test server), and Debian's Chromium driven by Playwright. Each test opens its own browser
/// context, so no sessionStorage or page state carries over from one test to another.
/// </summary>
public sealed class ConsoleBrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    // --headless and a fresh --user-data-dir are Playwright's own: each launch gets a new temporary
    // profile. Without the background-networking flags Chromium keeps calling home on a closed network.
    private static readonly string[] ChromiumFlags =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ];

    private PostgresCluster? _cluster;
    private ApiFactory? _api;
    private IPlaywright? _playwright;

    public PostgresCluster Cluster => _cluster ?? throw new InvalidOperationException("The cluster did not start.");

    /// <summary>The Api's address as the browser reaches it.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>A client of the real port with the admin key.</summary>
    public HttpClient Http { get; private set; } = null!;

    public ApiFactory Api => _api ?? throw new InvalidOperationException("The Api did not start.");

    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: install Debian's chromium package (tests/run.sh does, as root: apt-get install -y chromium).");
        }

        _cluster = await PostgresCluster.StartAsync("console", silos: 2);
        var port = Ports.Free();
        _api = new ApiFactory(Cluster.Settings.Concat(new Dictionary<string, string?> { ["RateLimit:RequestsPerSecond"] = "100000" }).ToDictionary());
        _api.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        _api.StartServer();
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
        (await _api.CreateReadyClientAsync()).Dispose();
        // The tests' own calls go through the same port as the browser's.
        Http = new HttpClient { BaseAddress = BaseAddress };
        Http.DefaultRequestHeaders.Authorization = new("Bearer", TestKeys.Admin);

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ChromiumFlags,
        });
    }

    /// <summary>A new browser context (its own storage) on the Api, with the page's console errors collected.</summary>
    public async Task<ConsolePage> OpenAsync()
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1366, Height = 900 },
        });
        var page = await context.NewPageAsync();
        return new ConsolePage(context, page);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
        Http?.Dispose();
        if (_api is not null)
        {
            await _api.DisposeAsync();
        }

        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ConsoleBrowserCollection : ICollectionFixture<ConsoleBrowserFixture>
{
    public const string Name = "console in Chromium on a two-silo PostgreSQL cluster";
}

/// <summary>One tab of the console, with the errors the page logged (a CSP violation is one).</summary>
public sealed class ConsolePage(IBrowserContext context, IPage page) : IAsyncDisposable
{
    private readonly List<string> _errors = Subscribe(page);

    public IPage Page => page;

    public IBrowserContext Context => context;

    /// <summary>Errors the page reported: console errors, uncaught exceptions, CSP refusals.</summary>
    public IReadOnlyList<string> Errors => _errors;

    private static List<string> Subscribe(IPage page)
    {
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (errors)
                {
                    errors.Add(message.Text);
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (errors)
            {
                errors.Add(error);
            }
        };
        return errors;
    }

    public async ValueTask DisposeAsync() => await context.DisposeAsync();
}
