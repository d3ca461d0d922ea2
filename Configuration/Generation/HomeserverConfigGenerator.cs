using System.Security.Cryptography;

namespace Homeserver.Configuration;

public sealed record GenerateConfigRequest(
    string ServerName,
    string DataDirectory,
    string DatabaseHost,
    int DatabasePort,
    string DatabaseUser,
    string DatabaseName,
    int ListenPort = 8008,
    string BindAddress = "127.0.0.1");

/// <summary>Writes a starting homeserver.yaml the way Synapse's <c>--generate-config</c> does: Synapse's keys, fresh secrets.</summary>
public static class HomeserverConfigGenerator
{
    private const string SecretAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~";

    public static string NewSecret() => RandomNumberGenerator.GetString(SecretAlphabet, 50);

    public static string Generate(GenerateConfigRequest r) => $"""
        # Configuration file for this homeserver, with Synapse's key names.
        # Generated on first start; edit it and restart to apply changes.

        server_name: "{r.ServerName}"

        listeners:
          - port: {r.ListenPort}
            type: http
            tls: false
            x_forwarded: true
            bind_addresses: ['{r.BindAddress}']
            resources:
              - names: [client, federation]
                compress: false
        # Federation on its own port with TLS (other servers reach port 8448 unless .well-known or SRV
        # say otherwise), the client API staying behind the proxy above. Each listener serves only the
        # endpoints of its resources; the certificate is a PEM chain (leaf first) and its PEM key:
        #   - port: 8448
        #     type: http
        #     tls: true
        #     bind_addresses: ['::', '0.0.0.0']
        #     resources:
        #       - names: [federation]
        # tls_certificate_path: /etc/letsencrypt/live/{r.ServerName}/fullchain.pem
        # tls_private_key_path: /etc/letsencrypt/live/{r.ServerName}/privkey.pem

        database:
          name: psycopg2
          args:
            user: {r.DatabaseUser}
            dbname: {r.DatabaseName}
            host: "{r.DatabaseHost}"
            port: {r.DatabasePort}
            cp_min: 5
            cp_max: 20

        # Registration is closed: create users with register_new_matrix_user and this secret.
        enable_registration: false
        # Guest accounts (POST /register?kind=guest, limited to the spec's guest endpoints) are refused.
        allow_guest_access: false
        registration_shared_secret: "{NewSecret()}"
        macaroon_secret_key: "{NewSecret()}"
        form_secret: "{NewSecret()}"
        report_stats: false

        # The server's signing key is generated on first start and kept in the database.
        media_store_path: "{Path.Combine(r.DataDirectory, "media_store")}"

        # Rate limits (Synapse's defaults shown):
        # rc_message: {"{"}per_second: 0.2, burst_count: 10{"}"}
        # rc_registration: {"{"}per_second: 0.17, burst_count: 3{"}"}

        # To split into silos and API hosts (see README), uncomment and adapt; each silo's worker file
        # gives its orleans_gateway_port. scripts/cluster-cert DIR makes the cluster certificate.
        # orleans:
        #   tls_certificate_path: /path/to/cluster.pfx
        # instance_map:
        #   silo1: {"{"}host: 127.0.0.1, port: 11111{"}"}
        #   silo2: {"{"}host: 127.0.0.1, port: 11112{"}"}
        # stream_writers:
        #   events: [silo1, silo2]
        #   account_data: [silo1, silo2]
        #   typing: silo1

        """;
}
