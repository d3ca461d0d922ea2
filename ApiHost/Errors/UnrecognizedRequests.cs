using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.AspNetCore.Routing.Template;

namespace Homeserver.ApiHost.Errors;

/// <summary>
/// The answer for requests no endpoint serves: 405 M_UNRECOGNIZED when the path exists with
/// another method, 404 M_UNRECOGNIZED otherwise (the spec's rule for unknown endpoints).
/// </summary>
public sealed class UnrecognizedRequests(EndpointDataSource endpoints)
{
    private IReadOnlyList<TemplateMatcher>? _matchers;

    public IResult Answer(HttpContext http)
    {
        _matchers ??= endpoints.Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText is { } raw && !raw.Contains("**", StringComparison.Ordinal))
            .Select(e => new TemplateMatcher(TemplateParser.Parse(e.RoutePattern.RawText!), new RouteValueDictionary()))
            .ToList();
        var path = http.Request.Path;
        var known = _matchers.Any(m => m.TryMatch(path, new RouteValueDictionary()));
        return known
            ? MatrixError.Result(StatusCodes.Status405MethodNotAllowed, "M_UNRECOGNIZED", $"{http.Request.Method} is not allowed on {path}.")
            : MatrixError.Result(StatusCodes.Status404NotFound, "M_UNRECOGNIZED", $"Unrecognized request: {http.Request.Method} {path}");
    }
}
