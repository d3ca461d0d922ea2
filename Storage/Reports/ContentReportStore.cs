using Npgsql;

namespace Homeserver.Storage.Reports;

/// <summary>What a user reported: an event (with its room), a room, or a user, and the request body as sent.</summary>
public sealed record ContentReport(string Reporter, string? RoomId, string? EventId, string? TargetUserId, string? Reason, string ContentJson);

/// <summary>Reports of content for the server's admins (spec "Reporting content").</summary>
public sealed class ContentReportStore(NpgsqlDataSource dataSource)
{
    public async Task<long> AddAsync(ContentReport report, long now, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO content_reports (received_ts, reporter, room_id, event_id, target_user_id, reason, content)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
            """).With(now, report.Reporter, report.RoomId, report.EventId, report.TargetUserId, report.Reason, report.ContentJson);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
