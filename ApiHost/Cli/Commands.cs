using Homeserver.ApiHost.Hosting;
using Homeserver.ApiHost.Routing;

namespace Homeserver.ApiHost.Cli;

/// <summary>The operator commands both executables take before any server starts.</summary>
public static class Commands
{
    /// <summary>Runs the command <paramref name="args"/> names; null when they name none (so a server starts).</summary>
    public static async Task<int?> TryRunAsync(string[] args) => args switch
    {
        ["generate-config", ..] => GenerateConfigCommand.Run(args[1..]),
        ["register_new_matrix_user", ..] => await RegisterNewMatrixUserCommand.RunAsync(args[1..]),
        ["routes", ..] => RoutesCommand.Run(args[1..]),
        ["probe", ..] => await ProbeCommand.RunAsync(args[1..]),
        _ => null,
    };
}
