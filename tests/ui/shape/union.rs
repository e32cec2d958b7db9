use buildamp::BuildAmpWebhook;

#[derive(BuildAmpWebhook)]
#[target(url = "https://api.example.com/notify")]
pub union Notify {
    pub a: u32,
    pub b: f32,
}

fn main() {}
