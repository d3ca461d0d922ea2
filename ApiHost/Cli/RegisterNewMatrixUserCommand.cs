using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Homeserver.ApiHost.Admin;
using Homeserver.Configuration;
using Homeserver.Configuration.Processes;

namespace Homeserver.ApiHost.Cli;

/// <summary>
/// <c>register_new_matrix_user -c homeserver.yaml [-u name] [-p password] [-a] [server_url]</c>, as
/// Synapse's script: fetches a nonce from the running server and registers with the shared secret.
/// </summary>
public static class RegisterNewMatrixUserCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        string? Option(string name, string shortName) => ProcessSettingsLoader.OptionValues(args, name, shortName) is [.., var last] ? last : null;
        var configPath = Option("--config", "-c");
        var secret = Option("--shared-secret", "-k");
        if (secret is null && configPath is not null)
        {
            try
            {
                secret = HomeserverConfigLoader.Load(configPath).RegistrationSharedSecret;
            }
            catch (ConfigurationException e)
            {
                Console.Error.WriteLine(e.Message);
                return 1;
            }
        }
        if (secret is null)
        {
            Console.Error.WriteLine("No shared secret: give -c homeserver.yaml (with registration_shared_secret) or -k SECRET.");
            return 1;
        }
        var user = Option("--user", "-u") ?? Prompt("New user localpart: ");
        var password = Option("--password", "-p") ?? Prompt("Password: ");
        var admin = args.Contains("-a") || args.Contains("--admin");
        var server = args.LastOrDefault(a => a.StartsWith("http://", StringComparison.Ordinal) || a.StartsWith("https://", StringComparison.Ordinal))
            ?? "http://127.0.0.1:8008";
        if (string.IsNullOrEmpty(user) || string.IsNullOrEmpty(password))
        {
            Console.Error.WriteLine("A user name and a password are required.");
            return 1;
        }

        using var http = new HttpClient { BaseAddress = new Uri(server) };
        try
        {
            var nonce = (await http.GetFromJsonAsync<JsonObject>("/_synapse/admin/v1/register"))!["nonce"]!.GetValue<string>();
            var response = await http.PostAsJsonAsync("/_synapse/admin/v1/register", new JsonObject
            {
                ["nonce"] = nonce,
                ["username"] = user,
                ["password"] = password,
                ["admin"] = admin,
                ["mac"] = SharedSecretRegistrationEndpoints.Mac(secret, nonce, user, password, admin),
            });
            var body = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode)
            {
                Console.Error.WriteLine($"Registration failed ({(int)response.StatusCode}): {body}");
                return 1;
            }
            Console.WriteLine($"Registered {JsonNode.Parse(body)!["user_id"]}{(admin ? " (admin)" : "")}.");
            return 0;
        }
        catch (HttpRequestException e)
        {
            Console.Error.WriteLine($"Cannot reach the homeserver at {server}: {e.Message}");
            return 1;
        }
    }

    private static string? Prompt(string label)
    {
        Console.Write(label);
        return Console.ReadLine();
    }
}
