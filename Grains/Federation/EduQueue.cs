using Homeserver.Grains.Interfaces.Federation;

namespace Homeserver.Grains.Federation;

/// <summary>
/// The EDUs waiting for one destination, bounded: when full, the oldest typing notification goes first
/// (it is stale within seconds anyway), then the oldest EDU of any kind.
/// </summary>
public sealed class EduQueue(int capacity)
{
    public const string TypingEduType = "m.typing";

    private readonly LinkedList<Edu> _edus = new();

    public int Count => _edus.Count;

    /// <summary>Adds an EDU; returns how many had to be dropped for it.</summary>
    public int Add(Edu edu)
    {
        _edus.AddLast(edu);
        return Trim();
    }

    /// <summary>Takes up to <paramref name="limit"/> EDUs off the front, for a transaction.</summary>
    public IReadOnlyList<Edu> Take(int limit)
    {
        var taken = new List<Edu>(Math.Min(limit, _edus.Count));
        while (taken.Count < limit && _edus.First is { } first)
        {
            taken.Add(first.Value);
            _edus.RemoveFirst();
        }
        return taken;
    }

    /// <summary>Puts the EDUs of a failed transaction back at the front, in their order; returns how many were dropped.</summary>
    public int Return(IReadOnlyList<Edu> edus)
    {
        for (var i = edus.Count - 1; i >= 0; i--) _edus.AddFirst(edus[i]);
        return Trim();
    }

    public void Clear() => _edus.Clear();

    private int Trim()
    {
        var dropped = 0;
        while (_edus.Count > capacity)
        {
            var victim = _edus.First!;
            for (var node = _edus.First; node is not null; node = node.Next)
            {
                if (node.Value.EduType == TypingEduType)
                {
                    victim = node;
                    break;
                }
            }
            _edus.Remove(victim);
            dropped++;
        }
        return dropped;
    }
}
