using TendermintActors.Protocol.Identity;

namespace TendermintActors.Protocol.AddrBook;

/// <summary>The address book's file write: the one path every save takes (the address book actor's, and tests').</summary>
internal static class AddrBookFile
{
    /// <summary>Replaces the file atomically and durably (<see cref="AtomicFile"/>).</summary>
    public static void Write(string path, AddressBook book) =>
        // Not owner-only: the book holds public addresses, and Go writes it world-readable (0644) too.
        AtomicFile.WriteAllText(path, AddrBookJson.Serialize(book), ownerOnly: false);
}
