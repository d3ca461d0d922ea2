namespace Homeserver.Federation.Discovery;

/// <summary>How long an HTTP answer may be kept by its own word: Cache-Control no-store or max-age, else Expires (RFC 9111).</summary>
public static class CacheHeaders
{
    /// <summary>The period, zero for no-store or an unreadable Expires (RFC 9111: already expired), null when the headers say nothing.</summary>
    public static TimeSpan? Period(HttpResponseMessage response, DateTimeOffset now)
    {
        var control = response.Headers.CacheControl;
        if (control is { NoStore: true }) return TimeSpan.Zero;
        if (control?.MaxAge is { } maxAge) return maxAge;
        if (response.Content.Headers.TryGetValues("Expires", out var expires))
        {
            return DateTimeOffset.TryParse(expires.Last(), System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AssumeUniversal, out var at) ? at - now : TimeSpan.Zero;
        }
        return null;
    }

    internal static bool IsRedirect(HttpResponseMessage response) =>
        (int)response.StatusCode is 301 or 302 or 303 or 307 or 308 && response.Headers.Location is not null;
}
