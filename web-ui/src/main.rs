//! Entry point trunk builds into the page.

fn main() {
    web_ui::start();
}
