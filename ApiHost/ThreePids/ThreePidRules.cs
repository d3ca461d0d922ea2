using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Homeserver.ApiHost.RateLimiting;
using Homeserver.Configuration.Processes;
using Homeserver.Grains.Interfaces.Errors;
using Homeserver.Protocol;
using Microsoft.AspNetCore.Http;

namespace Homeserver.ApiHost.ThreePids;

/// <summary>The server's 3PID policy: whether changes are enabled, which addresses are allowed, how often tokens may be asked for.</summary>
public sealed class ThreePidRules(ProcessSettings settings, RateLimiter limiter)
{
    private readonly IReadOnlyList<(string Medium, Regex Pattern)> _allowed = settings.ThreePids.AllowedLocal
        .Select(a => (a.Medium, new Regex(a.Pattern, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100)))).ToList();

    public bool EmailConfigured => settings.Email is not null;

    /// <summary>Synapse's answer when <c>enable_3pid_changes</c> is false.</summary>
    public void RequireChangesEnabled()
    {
        if (!settings.ThreePids.EnableChanges) throw new MatrixException(400, "M_FORBIDDEN", "3PID changes are disabled on this server.");
    }

    /// <summary>
    /// With <c>request_token_inhibit_3pid_errors</c>, the answer a requestToken that sent nothing gives:
    /// a made-up session ID after a random 0.1 to 1 s, as Synapse waits, so that neither the answer nor its
    /// timing tells whether the address has an account. Null when the errors are not inhibited.
    /// </summary>
    public async Task<IResult?> PretendTokenSentAsync(CancellationToken cancellationToken)
    {
        if (!settings.ThreePids.InhibitRequestTokenErrors) return null;
        await Task.Delay(TimeSpan.FromMilliseconds(100 * Random.Shared.Next(1, 11)), cancellationToken);
        return Results.Json(new JsonObject { ["sid"] = RandomText.Letters(16) });
    }

    /// <summary>Synapse's <c>check_3pid_allowed</c>: with no <c>allowed_local_3pids</c> every 3PID is allowed.</summary>
    public bool IsAllowed(string medium, string address)
    {
        if (_allowed.Count == 0) return true;
        foreach (var (allowedMedium, pattern) in _allowed)
        {
            try
            {
                if (allowedMedium == medium && pattern.Match(address) is { Success: true, Index: 0 }) return true;
            }
            catch (RegexMatchTimeoutException)
            {
                // An address that makes the operator's pattern run away is not one it allows.
            }
        }
        return false;
    }

    /// <summary><c>rc_3pid_validation</c>, by the client's address and by the 3PID, as Synapse limits requestToken.</summary>
    public void Throttle(HttpContext http, string medium, string address)
    {
        limiter.Acquire("3pid-validation-ip", $"{medium} {http.Connection.RemoteIpAddress}", settings.ThreePids.ValidationRateLimit);
        limiter.Acquire("3pid-validation-address", $"{medium} {address}", settings.ThreePids.ValidationRateLimit);
    }
}
