using Homeserver.Storage;
using Npgsql;

namespace Homeserver.Storage.Streams;

/// <summary>
/// What a survivor does when the cluster declares a silo dead, so readers never stall behind it
/// and nothing it still had in flight can land later.
///
/// A dead writer's stream position rows would hold every reader's safe position back forever (it
/// never persists again). Marking them idle lets readers bound them by the sequence, which is only
/// safe if nothing of that writer can still commit below it: a killed process's transactions died
/// with its connections, but a frozen one (SIGSTOP, a long GC, a partition) still holds open
/// sessions and may wake up and commit. So the fence first terminates every PostgreSQL session of
/// that instance (each process names its sessions after itself), rolling back whatever it had in
/// flight, and only then marks its rows idle: what is left of it in the tables is exactly what it
/// committed. Sessions are named per incarnation, and the rows are left alone once a restarted silo
/// of the same name runs (its first allocation cleared the mark, and it may have rows in flight).
/// </summary>
public sealed class DeadWriterFence(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Terminates the sessions of one incarnation of an instance and, unless <paramref name="successorRunning"/>
    /// (a restarted silo of that name already writes again), marks its stream positions idle; returns how many
    /// sessions and rows.
    /// </summary>
    public async Task<(int Sessions, int Rows)> FenceAsync(string instanceName, int generation, bool successorRunning,
        CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        int sessions;
        // The pids are chosen first, in a materialized step: in one WHERE clause PostgreSQL may call
        // pg_terminate_backend before it has checked the other conditions, ending every session on the server.
        await using (var terminate = new NpgsqlCommand("""
            WITH doomed AS MATERIALIZED (
                SELECT pid FROM pg_stat_activity
                WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid())
            SELECT count(*)::int FROM doomed WHERE pg_terminate_backend(pid)
            """, connection))
        {
            terminate.Parameters.Add(new() { Value = StorageSessionName.For(instanceName, generation).Value });
            sessions = (int)(await terminate.ExecuteScalarAsync(cancellationToken))!;
        }
        if (successorRunning) return (sessions, 0);
        await using var mark = new NpgsqlCommand(
            "UPDATE stream_positions SET idle = true WHERE instance_name = $1 AND NOT idle", connection);
        mark.Parameters.Add(new() { Value = instanceName });
        var rows = await mark.ExecuteNonQueryAsync(cancellationToken);
        return (sessions, rows);
    }
}
