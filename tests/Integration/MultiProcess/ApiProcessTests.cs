using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using OrleansCompute.Tests.Infrastructure;

namespace OrleansCompute.Tests.MultiProcess;

/// <summary>The Api as users start it: HTTPS from Kestrel configuration, and the embedded-mode bootstrap key.</summary>
public class ApiProcessTests
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Api_serves_https_when_a_certificate_is_configured()
    {
        var folder = Directory.CreateTempSubdirectory("oc-tls-");
        var certificatePath = Path.Combine(folder.FullName, "api.pfx");
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        await File.WriteAllBytesAsync(certificatePath, certificate.Export(X509ContentType.Pfx, "test-password"));
        var port = Ports.Free();

        await using var api = NodeProcess.Start("api-tls", Repository.Binary("Api", "OrleansCompute.Api.dll"), new Dictionary<string, string>
        {
            ["Kestrel__Endpoints__Https__Url"] = $"https://127.0.0.1:{port}",
            ["Kestrel__Endpoints__Https__Certificate__Path"] = certificatePath,
            ["Kestrel__Endpoints__Https__Certificate__Password"] = "test-password",
            ["Orleans__Gateways"] = $"127.0.0.1:{Ports.Free()}",
            ["Auth__AdminKey"] = TestKeys.Admin,
        });
        var thumbprint = certificate.Thumbprint;
        using var http = new HttpClient(new HttpClientHandler
        {
            // Trust exactly the certificate the test made, nothing else.
            ServerCertificateCustomValidationCallback = (_, presented, _, _) => presented?.Thumbprint == thumbprint,
        })
        { BaseAddress = new Uri($"https://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };

        await Eventually.WaitAsync(async () => (await http.GetAsync("/health/live")).IsSuccessStatusCode, ReadyTimeout, "the Api over HTTPS\n" + api.Tail());
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/v1/tables")).StatusCode);
    }

    [Fact]
    public async Task Embedded_mode_without_an_admin_key_prints_a_generated_one_once_and_stores_only_its_hash()
    {
        var storage = Directory.CreateTempSubdirectory("oc-bootstrap-");
        var siloPort = Ports.Free();
        var gatewayPort = Ports.Free();
        var healthPort = Ports.Free();
        var embedded = new Dictionary<string, string>
        {
            ["Storage__Path"] = storage.FullName,
            ["Orleans__SiloPort"] = siloPort.ToString(),
            ["Orleans__PrimarySiloPort"] = siloPort.ToString(),
            ["Orleans__GatewayPort"] = gatewayPort.ToString(),
            ["Silo__HealthPort"] = healthPort.ToString(),
        };
        await using var silo = NodeProcess.Start("silo", Repository.Binary("Silo", "OrleansCompute.Silo.dll"), embedded);
        var apiPort = Ports.Free();
        var apiSettings = new Dictionary<string, string>
        {
            ["Orleans__Gateways"] = $"127.0.0.1:{gatewayPort}",
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{apiPort}",
        };

        string key;
        await using (var api = NodeProcess.Start("api", Repository.Binary("Api", "OrleansCompute.Api.dll"), apiSettings))
        {
            const string banner = "Generated admin API key (shown once, only its hash is stored): ";
            await Eventually.WaitAsync(() => Task.FromResult(api.Tail(400).Contains(banner)), ReadyTimeout,
                "the Api to print a generated admin key\n" + api.Tail() + "\n" + silo.Tail());
            var line = api.Tail(400).Split('\n').Single(l => l.Contains(banner));
            key = line[(line.IndexOf(banner) + banner.Length)..].Trim();

            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}") };
            http.DefaultRequestHeaders.Authorization = new("Bearer", key);
            Assert.Equal(HttpStatusCode.Created, (await http.PutAsync("/v1/tables/first", null)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/cluster")).StatusCode);
        }

        // A restarted Api does not print it again, and the key still works.
        await using (var again = NodeProcess.Start("api-again", Repository.Binary("Api", "OrleansCompute.Api.dll"), apiSettings))
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}") };
            http.DefaultRequestHeaders.Authorization = new("Bearer", key);
            await Eventually.WaitAsync(async () => (await http.GetAsync("/v1/tables/first")).StatusCode == HttpStatusCode.OK,
                ReadyTimeout, "the restarted Api to accept the key\n" + again.Tail());
            Assert.DoesNotContain("Generated admin API key", again.Tail(400));
        }

        // The key is lost: the machine's owner starts the Api with Auth__NewAdminKey=true
        // (up.sh --new-admin-key) and gets a new one, printed once, that works like the first.
        var recovery = new Dictionary<string, string>(apiSettings) { ["Auth__NewAdminKey"] = "true" };
        await using (var recovered = NodeProcess.Start("api-recovered", Repository.Binary("Api", "OrleansCompute.Api.dll"), recovery))
        {
            const string banner = "Generated admin API key (shown once, only its hash is stored): ";
            await Eventually.WaitAsync(() => Task.FromResult(recovered.Tail(400).Contains(banner)), ReadyTimeout,
                "the Api to print a new admin key\n" + recovered.Tail());
            var line = recovered.Tail(400).Split('\n').Single(l => l.Contains(banner));
            var newKey = line[(line.IndexOf(banner) + banner.Length)..].Trim();
            Assert.NotEqual(key, newKey);

            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}") };
            http.DefaultRequestHeaders.Authorization = new("Bearer", newKey);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/admin/tenants")).StatusCode);

            // Through Kestrel, which keeps %2F encoded in the path: the key is decoded once from the raw target.
            Assert.Equal(HttpStatusCode.Created, (await http.PutAsync("/v1/tables/first/keys/dir%2Fsub", new StringContent("1"))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/tables/first/keys/dir/sub")).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await http.PutAsync("/v1/tables/first/keys/a%252Fb", new StringContent("2"))).StatusCode);
            Assert.Equal("2", await http.GetStringAsync("/v1/tables/first/keys/a%252Fb"));
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/v1/tables/first/keys/a/b")).StatusCode);
        }

        // Only the hash is stored: the secret part appears in no file of the embedded store.
        var secret = Encoding.UTF8.GetBytes(key.Split('_', 3)[2]);
        foreach (var file in Directory.EnumerateFiles(storage.FullName))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            Assert.True(copy.ToArray().AsSpan().IndexOf(secret) < 0, $"{file} contains the key");
        }
    }
}
