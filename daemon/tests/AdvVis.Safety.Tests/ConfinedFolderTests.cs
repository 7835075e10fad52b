// ConfinedFolderTests: the cache/export folder rules on real links and real ownership.
using System.Diagnostics;

namespace AdvVis.Safety.Tests;

public sealed class ConfinedFolderTests
{
    [Fact]
    public void A_folder_that_is_a_link_or_goes_through_one_below_the_workspace_is_refused()
    {
        if (OperatingSystem.IsWindows()) return;
        using var workspace = new TempFolder();
        using var elsewhere = new TempFolder();
        Directory.CreateDirectory(workspace[".advvis"]);
        File.CreateSymbolicLink(workspace[".advvis/cache"], elsewhere.Path);
        var e = Assert.Throws<UnsafeFileException>(() => ConfinedFolder.Open(workspace[".advvis/cache"], "cache folder", workspace.Path));
        Assert.Contains(workspace[".advvis/cache"], e.Message);
        Assert.Contains("symbolic link", e.Message);
        Assert.Contains("Remove the link", e.Message);

        using var workspace2 = new TempFolder();
        File.CreateSymbolicLink(workspace2[".advvis"], elsewhere.Path);
        Assert.Throws<UnsafeFileException>(() => ConfinedFolder.Open(workspace2[".advvis/cache"], "cache folder", workspace2.Path));
        // Without a workspace root the folder itself is checked.
        Assert.Throws<UnsafeFileException>(() => ConfinedFolder.Open(workspace2[".advvis"], "cache folder", null));
    }

    [Fact]
    public void A_folder_owned_by_another_user_is_refused()
    {
        if (OperatingSystem.IsWindows()) return;
        using var workspace = new TempFolder();
        Directory.CreateDirectory(workspace[".advvis/cache"]);
        Assert.NotNull(ConfinedFolder.Open(workspace[".advvis/cache"], "cache folder", workspace.Path));
        if (FileStatus.CurrentUserId != 0) return; // only root can give a folder away; as another user the check is the same code
        using (var chown = Process.Start(new ProcessStartInfo("chown", ["65534", workspace[".advvis/cache"]]) { UseShellExecute = false })!) chown.WaitForExit();
        var e = Assert.Throws<UnsafeFileException>(() => ConfinedFolder.Open(workspace[".advvis/cache"], "cache folder", workspace.Path));
        Assert.Contains("uid 65534", e.Message);
        Assert.Contains("folder you own", e.Message);
    }

    [Fact]
    public void Writes_refuse_a_link_on_the_way_and_replace_a_link_at_the_destination_without_writing_through_it()
    {
        if (OperatingSystem.IsWindows()) return;
        using var workspace = new TempFolder();
        using var elsewhere = new TempFolder();
        string victim = elsewhere.File("victim.txt", "mine");
        var export = ConfinedFolder.Open(workspace[".advvis/export"], "export folder", workspace.Path);

        string written = export.WriteAtomically("runs/a.csv", "1,2"u8);
        Assert.Equal(workspace[".advvis/export/runs/a.csv"], written);
        Assert.Equal("1,2", File.ReadAllText(written));

        File.CreateSymbolicLink(workspace[".advvis/export/out"], elsewhere.Path);
        var e = Assert.Throws<UnsafeFileException>(() => export.WriteAtomically("out/victim.txt", "evil"u8));
        Assert.True(e.OutsideAllowedFolder);
        Assert.Equal("mine", File.ReadAllText(victim));

        File.CreateSymbolicLink(workspace[".advvis/export/victim.txt"], victim);
        export.WriteAtomically("victim.txt", "new"u8);
        Assert.Equal("mine", File.ReadAllText(victim));
        Assert.Equal(FileKind.Regular, FileStatus.OfLink(workspace[".advvis/export/victim.txt"]).Kind);

        Assert.Throws<UnsafeFileException>(() => export.WriteAtomically("../escape.txt", "x"u8));
        Assert.Equal([victim], Directory.GetFiles(elsewhere.Path));
    }

    [Fact]
    public void RequireFile_accepts_only_regular_files_inside_and_says_nothing_about_outside_files()
    {
        if (OperatingSystem.IsWindows()) return;
        using var workspace = new TempFolder();
        using var elsewhere = new TempFolder();
        var cache = ConfinedFolder.Open(workspace[".advvis/cache"], "cache folder", workspace.Path);
        string blob = cache.WriteAtomically("blobs/k-1.f32", new byte[8]);
        Assert.Equal(SafeFiles.Resolve(blob), cache.RequireFile(blob, "array.path"));

        string outside = elsewhere.File("secret.bin", new string('s', 1234));
        File.CreateSymbolicLink(workspace[".advvis/cache/blobs/link.f32"], outside);
        foreach (var path in new[] { outside, workspace[".advvis/cache/blobs/link.f32"], workspace[".advvis/cache/../../x"], "/etc/adduser.conf", elsewhere["missing.bin"] })
        {
            var e = Assert.Throws<UnsafeFileException>(() => cache.RequireFile(path, "array.path"));
            Assert.True(e.OutsideAllowedFolder);
            Assert.DoesNotContain("1234", e.Message);
            Assert.DoesNotContain("exist", e.Message);
        }
    }

    [Fact]
    public void Listing_and_deleting_stay_inside_and_never_descend_into_linked_folders()
    {
        if (OperatingSystem.IsWindows()) return;
        using var workspace = new TempFolder();
        using var elsewhere = new TempFolder();
        string precious = elsewhere.File("big/photo.jpg", "precious");
        var cache = ConfinedFolder.Open(workspace[".advvis/cache"], "cache folder", workspace.Path);
        cache.WriteAtomically("results/a.json", "{}"u8);
        File.CreateSymbolicLink(workspace[".advvis/cache/blobs"], elsewhere.Path);

        var files = cache.Files().ToList();
        Assert.Contains(files, f => f.Path == workspace[".advvis/cache/results/a.json"] && f.Status.Kind == FileKind.Regular);
        Assert.Contains(files, f => f.Path == workspace[".advvis/cache/blobs"] && f.Status.Kind == FileKind.SymbolicLink);
        Assert.DoesNotContain(files, f => f.Path.Contains("photo", StringComparison.Ordinal));

        cache.Delete("blobs");
        cache.Delete("results");
        Assert.Equal("precious", File.ReadAllText(precious));
        Assert.Empty(cache.Files());
    }
}
