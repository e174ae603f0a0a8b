using System.Numerics;

namespace Orleans.Search.Queries;

/// <summary>Page sets as bit masks: bit p-1 stands for page p (pages are 1–10).</summary>
public static class PageMask
{
    public static int Bit(int page) => 1 << (page - 1);

    public static bool IsSet(int mask, int page) => (mask & Bit(page)) != 0;

    public static int Count(int mask) => BitOperations.PopCount((uint)mask);
}
