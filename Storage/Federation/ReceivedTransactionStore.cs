using Npgsql;

namespace Homeserver.Storage.Federation;

/// <summary>The answers given to other servers' transactions, by origin and transaction ID (the spec makes /send idempotent per origin).</summary>
public sealed class ReceivedTransactionStore(NpgsqlDataSource dataSource)
{
    public async Task<string?> FindAsync(string origin, string txnId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT response_json FROM received_transactions WHERE origin = $1 AND txn_id = $2");
        command.Parameters.Add(new() { Value = origin });
        command.Parameters.Add(new() { Value = txnId });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    /// <summary>Keeps the answer; a concurrent duplicate that finished first keeps its own.</summary>
    public async Task SaveAsync(string origin, string txnId, string responseJson, long receivedTs, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO received_transactions (origin, txn_id, response_json, received_ts) VALUES ($1, $2, $3, $4)
            ON CONFLICT (origin, txn_id) DO NOTHING
            """);
        command.Parameters.Add(new() { Value = origin });
        command.Parameters.Add(new() { Value = txnId });
        command.Parameters.Add(new() { Value = responseJson });
        command.Parameters.Add(new() { Value = receivedTs });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
