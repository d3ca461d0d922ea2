using Microsoft.Extensions.Logging;

namespace Homeserver.Storage;

public sealed partial class StorageLog(ILogger<StorageLog> logger)
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Applied database migration {Version:0000} {Name}")]
    public partial void MigrationApplied(int version, string name);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Warning, Message = "Room {RoomId}: append refused, this activation's writer epoch {Epoch} is no longer current")]
    public partial void WriterFenced(string roomId, long epoch);

    [LoggerMessage(EventId = 2020, Level = LogLevel.Warning, Message = "Stream {Stream}: persisting writer position failed")]
    public partial void PersistPositionFailed(Exception exception, string stream);
}
