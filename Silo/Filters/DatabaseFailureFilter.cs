using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Silo.Hosting;
using Npgsql;
using Orleans;

namespace Homeserver.Silo.Filters;

/// <summary>
/// A grain call that failed in PostgreSQL (a dropped connection, a fenced session, a timeout) answers
/// the caller with a retryable 503 instead of Npgsql's exception, which Orleans cannot serialize and
/// which would reach the API host as a codec error and a 500. Everything a grain writes is one
/// transaction, so a failed call changed nothing and is safe to retry.
/// </summary>
public sealed class DatabaseFailureFilter(SiloLog log) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (NpgsqlException e) when (context.InterfaceMethod.DeclaringType?.Namespace?.StartsWith("Homeserver.", StringComparison.Ordinal) == true)
        {
            log.GrainDatabaseFailure(e, context.InterfaceName, context.MethodName);
            throw MatrixException.Unavailable("The database did not complete the request; retry shortly.");
        }
    }
}
