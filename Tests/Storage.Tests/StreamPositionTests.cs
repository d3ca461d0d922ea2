using System.Collections.Concurrent;
using Homeserver.Storage;
using Homeserver.Storage.Migrations;
using Homeserver.Storage.Streams;
using Homeserver.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Homeserver.Tests.Storage;

public sealed class StreamPositionTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private NpgsqlDataSource _dataSource = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync();
        _dataSource = NpgsqlDataSource.Create(_database.ConnectionString);
        await new MigrationRunner(_dataSource, new StorageLog(NullLogger<StorageLog>.Instance)).ApplyAsync();
        await using var table = _dataSource.CreateCommand(
            "CREATE TABLE test_stream_rows (position bigint PRIMARY KEY, writer text NOT NULL)");
        await table.ExecuteNonQueryAsync();
    }

    public async Task DisposeAsync()
    {
        await _dataSource.DisposeAsync();
        await _database.DisposeAsync();
    }

    [Fact]
    public async Task Readers_never_see_a_row_appear_below_a_safe_position_they_already_read()
    {
        var writers = new List<MultiWriterIdGenerator>();
        for (var w = 0; w < 4; w++) writers.Add(await MultiWriterIdGenerator.CreateAsync(_dataSource, "receipts", $"writer{w}"));
        var idle = await MultiWriterIdGenerator.CreateAsync(_dataSource, "receipts", "idle-writer");
        var reader = new StreamPositionReader(_dataSource);
        var stop = new CancellationTokenSource();
        var violations = new ConcurrentBag<string>();
        var committed = new ConcurrentBag<long>();
        var reads = 0;

        // Writers: allocate, hold the transaction open for a random moment, then commit or roll back,
        // so positions commit out of order within and across writers.
        // Each writer runs three transactions at a time, as a silo hosting many room grains does.
        var writing = writers.SelectMany(writer => Enumerable.Range(0, 3).Select(lane => (writer, lane))).Select((w, index) => Task.Run(async () =>
        {
            var (writer, _) = w;
            var random = new Random(index);
            for (var i = 0; i < 25; i++)
            {
                await using var connection = await _dataSource.OpenConnectionAsync();
                await using var tx = await connection.BeginTransactionAsync();
                using var lease = await writer.AllocateAsync(connection, tx);
                await using (var insert = new NpgsqlCommand("INSERT INTO test_stream_rows VALUES ($1, $2)", connection, tx))
                {
                    insert.Parameters.Add(new() { Value = lease.Position });
                    insert.Parameters.Add(new() { Value = writer.InstanceName });
                    await insert.ExecuteNonQueryAsync();
                }
                await Task.Delay(random.Next(0, 8));
                if (random.Next(10) == 0)
                {
                    await tx.RollbackAsync();
                }
                else
                {
                    await tx.CommitAsync();
                    committed.Add(lease.Position);
                }
                lease.Dispose();
                await writer.PersistAsync();
            }
        })).ToArray();

        // The idle writer only ever advances; it must not hold readers back.
        var advancing = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await idle.AdvanceIfIdleAsync();
                await idle.PersistAsync();
                await Task.Delay(5);
            }
        });

        // Readers: take the safe position, read every row at or below it, and remember the set.
        // A later read of the same range must return exactly the same rows.
        var reading = Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            var snapshots = new List<(long Safe, HashSet<long> Rows)>();
            while (!stop.IsCancellationRequested)
            {
                var safe = await reader.GetSafePositionAsync("receipts");
                var rows = await ReadRowsUpTo(safe);
                foreach (var (earlierSafe, earlierRows) in snapshots)
                {
                    var now = rows.Where(p => p <= earlierSafe).ToHashSet();
                    if (!now.SetEquals(earlierRows))
                    {
                        violations.Add($"rows at or below {earlierSafe} changed from {earlierRows.Count} to {now.Count}");
                    }
                }
                snapshots.Add((safe, rows));
                if (snapshots.Count > 20) snapshots.RemoveAt(0);
                Interlocked.Increment(ref reads);
            }
        })).ToArray();

        await Task.WhenAll(writing);

        // Once everything is committed, the safe position reaches the last allocated position even
        // though the idle writer never wrote a row.
        var last = committed.Max();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await reader.GetSafePositionAsync("receipts") < last && DateTime.UtcNow < deadline)
        {
            // What StreamPositionPersister does on its period: writers that went idle advance too.
            foreach (var writer in writers)
            {
                await writer.AdvanceIfIdleAsync();
                await writer.PersistAsync();
            }
            await Task.Delay(20);
        }
        stop.Cancel();
        await Task.WhenAll(reading);
        await advancing;

        violations.Should().BeEmpty();
        reads.Should().BeGreaterThan(10);
        (await reader.GetSafePositionAsync("receipts")).Should().BeGreaterThanOrEqualTo(last);
        (await ReadRowsUpTo(long.MaxValue)).Should().BeEquivalentTo(committed);
    }

    [Fact]
    public async Task A_writer_with_a_transaction_in_flight_holds_the_safe_position_below_it()
    {
        var busy = await MultiWriterIdGenerator.CreateAsync(_dataSource, "presence", "busy");
        var other = await MultiWriterIdGenerator.CreateAsync(_dataSource, "presence", "other");
        var reader = new StreamPositionReader(_dataSource);

        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var lease = await busy.AllocateAsync(connection, tx);

        // The other writer commits later positions, yet the safe position stays below the open one.
        for (var i = 0; i < 3; i++)
        {
            await using var c2 = await _dataSource.OpenConnectionAsync();
            using var l2 = await other.AllocateAsync(c2, null);
        }
        await other.PersistAsync();
        await busy.PersistAsync();
        (await reader.GetSafePositionAsync("presence")).Should().Be(lease.Position - 1);

        // A later position of the same writer commits first: the earlier open one still holds it back.
        await using (var c3 = await _dataSource.OpenConnectionAsync())
        {
            using var later = await busy.AllocateAsync(c3, null);
        }
        await busy.PersistAsync();
        (await reader.GetSafePositionAsync("presence")).Should().Be(lease.Position - 1);

        await tx.CommitAsync();
        lease.Dispose();
        await busy.PersistAsync();
        (await reader.GetSafePositionAsync("presence")).Should().BeGreaterThan(lease.Position);

        await busy.PersistAsync();
        (await reader.GetSafePositionAsync("presence")).Should().Be(await reader.GetSequencePositionAsync("presence"),
            "with nothing in flight anywhere, everything the sequence handed out is committed");
    }

    [Fact]
    public async Task A_writer_the_configuration_no_longer_names_holds_nothing_back()
    {
        // "main" wrote before the server became a cluster; its row stays behind, busy, at an old position.
        var old = await MultiWriterIdGenerator.CreateAsync(_dataSource, "caches", "main");
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var stuck = await old.AllocateAsync(connection, tx);
        await old.PersistAsync();
        var current = await MultiWriterIdGenerator.CreateAsync(_dataSource, "caches", "silo1");
        long last;
        using (var l = await current.AllocateAsync(connection, null)) last = l.Position;
        await current.PersistAsync();

        (await new StreamPositionReader(_dataSource).GetSafePositionAsync("caches")).Should().Be(stuck.Position - 1);
        var configured = new Dictionary<string, IReadOnlyList<string>> { ["caches"] = ["silo1"] };
        (await new StreamPositionReader(_dataSource, configured).GetSafePositionAsync("caches")).Should().BeGreaterThanOrEqualTo(last);
        stuck.Dispose();
    }

    [Fact]
    public async Task A_silo_added_after_the_configuration_was_read_holds_readers_back_while_it_is_alive()
    {
        // silo3 joined the cluster after this reader's process started: its configuration names silo1 only.
        var added = await MultiWriterIdGenerator.CreateAsync(_dataSource, "to_device", "silo3");
        await using var connection = await _dataSource.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        var inFlight = await added.AllocateAsync(connection, tx);
        await added.PersistAsync();
        // silo1, configured, commits a later position meanwhile.
        var known = await MultiWriterIdGenerator.CreateAsync(_dataSource, "to_device", "silo1");
        long last;
        using (var l = await known.AllocateAsync(connection, null)) last = l.Position;
        await known.PersistAsync();
        var configured = new Dictionary<string, IReadOnlyList<string>> { ["to_device"] = ["silo1"] };
        var reader = new StreamPositionReader(_dataSource, configured);

        await SetMembershipAsync("silo3", status: 3);
        (await reader.GetSafePositionAsync("to_device")).Should().Be(inFlight.Position - 1,
            "an active silo's uncommitted position must not be passed, whatever this process was configured with");
        await SetMembershipAsync("silo3", status: 6);
        (await reader.GetSafePositionAsync("to_device")).Should().BeGreaterThanOrEqualTo(last,
            "a dead unconfigured instance holds nothing back");
        inFlight.Dispose();
    }

    private async Task SetMembershipAsync(string siloName, int status)
    {
        foreach (var sql in new[]
        {
            "INSERT INTO orleans_membership_version (deployment_id) VALUES ('test') ON CONFLICT DO NOTHING",
            "DELETE FROM orleans_membership WHERE silo_name = $1",
            """
            INSERT INTO orleans_membership (deployment_id, address, port, generation, silo_name, host_name, status, proxy_port, start_time, i_am_alive_time)
            VALUES ('test', '127.0.0.1', 11113, 1, $1, 'host', $2, 30003, now(), now())
            """,
        })
        {
            await using var command = _dataSource.CreateCommand(sql);
            if (sql.Contains("$1", StringComparison.Ordinal)) command.Parameters.Add(new() { Value = siloName });
            if (sql.Contains("$2", StringComparison.Ordinal)) command.Parameters.Add(new() { Value = status });
            await command.ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task An_idle_writer_holds_nothing_back_and_clears_its_mark_before_it_allocates_again()
    {
        var a = await MultiWriterIdGenerator.CreateAsync(_dataSource, "push_rules", "a");
        var b = await MultiWriterIdGenerator.CreateAsync(_dataSource, "push_rules", "b");
        var reader = new StreamPositionReader(_dataSource);
        await using var connection = await _dataSource.OpenConnectionAsync();

        // a commits once and goes quiet; b's later rows are visible at once, with no periodic advance.
        using (await a.AllocateAsync(connection, null)) { }
        await a.PersistAsync();
        long last;
        using (var l = await b.AllocateAsync(connection, null)) last = l.Position;
        await b.PersistAsync();
        (await reader.GetSafePositionAsync("push_rules")).Should().Be(last);

        // a allocates again: its open position holds readers back even though b commits past it.
        await using var tx = await connection.BeginTransactionAsync();
        var open = await a.AllocateAsync(connection, tx);
        await using (var other = await _dataSource.OpenConnectionAsync())
        {
            using (await b.AllocateAsync(other, null)) { }
        }
        await b.PersistAsync();
        (await reader.GetSafePositionAsync("push_rules")).Should().Be(open.Position - 1);
        await tx.CommitAsync();
        open.Dispose();
        await a.PersistAsync();
        (await reader.GetSafePositionAsync("push_rules")).Should().Be(await reader.GetSequencePositionAsync("push_rules"));
    }

    [Fact]
    public async Task Writer_ids_are_stable_across_restarts()
    {
        var first = await MultiWriterIdGenerator.CreateAsync(_dataSource, "events", "persister-a");
        var second = await MultiWriterIdGenerator.CreateAsync(_dataSource, "events", "persister-b");
        var again = await MultiWriterIdGenerator.CreateAsync(_dataSource, "to_device", "persister-a");
        again.WriterId.Should().Be(first.WriterId);
        second.WriterId.Should().NotBe(first.WriterId);
    }

    private async Task<HashSet<long>> ReadRowsUpTo(long position)
    {
        await using var command = _dataSource.CreateCommand("SELECT position FROM test_stream_rows WHERE position <= $1");
        command.Parameters.Add(new() { Value = position });
        var rows = new HashSet<long>();
        await using var r = await command.ExecuteReaderAsync();
        while (await r.ReadAsync()) rows.Add(r.GetInt64(0));
        return rows;
    }
}
