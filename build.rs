//! Rebuilds a release binary when the web front end in `frontend/dist`
//! changes: the release build embeds those files, and without this cargo
//! would keep serving the front end of the previous build. (A debug build
//! reads `frontend/dist` from disk at run time, so it needs no rebuild.)

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PROFILE");
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        // A folder here makes cargo compare every file under it, recursively.
        println!("cargo:rerun-if-changed=frontend/dist");
    }
}
