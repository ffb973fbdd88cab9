//! The demo cases of `seed-demo`: about forty consultations of Aomori
//! businesses, spread over stages, statuses, regions and institutions, with
//! referrals (accepted, declined, withdrawn, completed, pending and overdue),
//! notes of each visibility and resolved cases with outcomes.
//!
//! Every change goes through the same service functions as the API, on a
//! clock set back in time, so the events and hash chains are real. Running it
//! again adds nothing: the first demo business is the marker.

use crate::clock::FixedClock;
use crate::domain::corporate_number::check_digit;
use crate::domain::jst;
use crate::domain::permissions::Viewer;
use crate::domain::types::*;
use crate::error::AppError;
use crate::service::consultation::{self, Consultation};
use crate::service::intake::BusinessFields;
use crate::service::referrals::Action;
use crate::service::{cases as svc, notes, referrals};
use crate::state::AppState;
use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

use CaseStatus as S;
use Channel as Ch;
use NoteVisibility::{Business as Biz, Desk, Partners as Shared};
use Outcome as O;
use Stage::{Consult, Know, Try};

/// What happens to a demo case, in order.
#[derive(Debug, Clone, Copy)]
enum Act {
    /// The concierge refers to an institution (short key), with a note.
    Refer(&'static str, &'static str),
    Accept(&'static str, &'static str),
    Decline(&'static str, DeclineReason, &'static str),
    Complete(&'static str, &'static str),
    Withdraw(&'static str, &'static str),
    /// A note by the concierge.
    Note(NoteVisibility, &'static str),
    /// A note by the partner staff of an institution.
    PartnerNote(&'static str, NoteVisibility, &'static str),
    ToStage(Stage),
    ToStatus(CaseStatus),
    Resolve(&'static [Outcome], &'static str),
    Close,
}
use Act::*;

/// One demo consultation. Steps are `(hours after the previous step, act)`.
struct Demo {
    days_ago: i64,
    company: &'static str,
    corporate: bool,
    industry: &'static str,
    town: &'static str,
    contact: &'static str,
    email: &'static str,
    phone: &'static str,
    title: &'static str,
    description: &'static str,
    topics: &'static [&'static str],
    channel: Channel,
    stage: Stage,
    priority: Priority,
    consent: bool,
    steps: &'static [(i64, Act)],
}

/// Institutions by short key (names of `data/labs.json`).
const INSTITUTIONS: &[(&str, &str)] = &[
    ("center", "地方独立行政法人青森県産業技術センター"),
    ("bank", "株式会社青森銀行"),
    ("univ", "弘前大学"),
    ("21", "公益財団法人21あおもり産業総合支援センター"),
    ("npo", "特定非営利活動法人あおもりIT活用サポートセンター"),
    ("hit", "八戸工業大学"),
    ("michinoku", "株式会社みちのく銀行"),
    ("hosho", "青森県信用保証協会"),
    ("kanko", "公益社団法人青森県観光国際交流機構"),
    ("shokokai", "青森県商工会連合会"),
    ("kogyokai", "一般社団法人青森県工業会"),
];

/// The institutions whose partner staff have demo accounts.
const PARTNER_ACCOUNTS: &[(&str, &str)] = &[
    ("center", "partner.center@aomori.example"),
    ("bank", "partner.bank@aomori.example"),
    ("univ", "partner.univ@aomori.example"),
];

const D: Priority = Priority::Normal;

#[rustfmt::skip]
const DEMOS: &[Demo] = &[
    Demo { days_ago: 88, company: "株式会社ねぶたロジテック", corporate: true, industry: "H", town: "青森市",
        contact: "棟方 浩一", email: "munakata@nebuta-logi.example.jp", phone: "017-700-0101",
        title: "在庫管理のクラウド化", description: "倉庫2か所の在庫を紙の台帳とExcelで管理しており、月末の棚卸しに丸2日かかっている。クラウドの在庫管理サービスに移行したい。",
        topics: &["業務効率化", "在庫管理", "クラウド"], channel: Ch::WalkIn, stage: Consult, priority: D, consent: true,
        steps: &[(3, ToStatus(S::InProgress)), (20, Note(Desk, "倉庫2拠点、品目数は約1,200。担当者はExcelに慣れている。")),
                 (48, Note(Biz, "クラウド在庫管理サービス3社の比較資料をお送りしました。ご確認ください。")),
                 (120, ToStage(Try)), (300, Resolve(&[O::ToolAdopted], "クラウド在庫管理を2拠点に導入し、棚卸し時間が半日に短縮。")), (70, Close)] },
    Demo { days_ago: 45, company: "弘前アップルファーム合同会社", corporate: true, industry: "A", town: "弘前市",
        contact: "工藤 さくら", email: "kudo@apple-farm.example.jp", phone: "0172-00-0202",
        title: "IoTセンサーで園地の気象・土壌を監視したい", description: "りんご園地の霜害対策として、気温と土壌水分をセンサーで測り、スマートフォンで確認できるようにしたい。",
        topics: &["IoT", "農業", "データ分析"], channel: Ch::Phone, stage: Consult, priority: Priority::High, consent: true,
        steps: &[(5, Refer("univ", "園地センシングの研究実績がある先生をご紹介ください。")), (30, Accept("univ", "農学生命科学部の研究室で対応します。")),
                 (50, PartnerNote("univ", Shared, "園地3か所にセンサーを設置する計画。学生が設置を手伝う。")), (100, ToStage(Try)),
                 (24, Note(Biz, "来月、センサー設置の日程調整のご連絡をします。"))] },
    Demo { days_ago: 60, company: "八戸シーフーズ株式会社", corporate: true, industry: "E", town: "八戸市",
        contact: "中村 健", email: "nakamura@hachinohe-seafoods.example.jp", phone: "0178-00-0303",
        title: "水産加工ラインの画像検査にAIを活用したい", description: "イカの加工ラインで異物・規格外品を目視で検品している。AIによる画像検査を試し、設備投資の資金も相談したい。",
        topics: &["AI", "ものづくり", "資金調達"], channel: Ch::WalkIn, stage: Consult, priority: Priority::High, consent: true,
        steps: &[(4, Refer("center", "画像検査の実証をご検討ください。")), (6, Refer("bank", "設備投資の資金計画のご相談です。")),
                 (20, Accept("center", "食品加工担当が対応します。")), (26, Accept("bank", "八戸支店の法人担当が伺います。")),
                 (72, ToStage(Try)), (200, PartnerNote("center", Shared, "試作カメラで2週間撮影。学習データ約3,000枚。")),
                 (300, Complete("center", "試作機で検出率92%を確認。本導入の仕様書を作成済み。")),
                 (24, Note(Biz, "技術センターでの試行が完了しました。次は設備導入の資金計画です。"))] },
    Demo { days_ago: 20, company: "有限会社十和田やまびこ旅館", corporate: false, industry: "M", town: "十和田市",
        contact: "佐々木 久美子", email: "info@yamabiko-ryokan.example.jp", phone: "0176-00-0404",
        title: "予約管理とインバウンド向け多言語サイト", description: "電話と紙の台帳で予約を受けている。海外からの問い合わせが増え、多言語の予約サイトを作りたい。",
        topics: &["観光", "インバウンド", "EC"], channel: Ch::Email, stage: Know, priority: D, consent: true,
        steps: &[(100, Refer("kanko", "インバウンド向け予約サイトのご支援をお願いします。"))] },
    Demo { days_ago: 26, company: "株式会社むつ湾ホタテ商事", corporate: true, industry: "I", town: "むつ市",
        contact: "菊池 亮", email: "kikuchi@mutsuwan-hotate.example.jp", phone: "0175-00-0505",
        title: "ECサイト開設とネット販売", description: "贈答用ホタテの通信販売を電話注文だけで行っている。ECサイトを開設し、決済と発送を効率化したい。",
        topics: &["EC", "販路開拓"], channel: Ch::Seminar, stage: Consult, priority: D, consent: true,
        steps: &[(30, Note(Desk, "セミナー参加後の個別相談。社長は年末商戦までに開設したい意向。")),
                 (60, Refer("21", "EC開設と販路開拓のご支援をお願いします。"))] },
    Demo { days_ago: 3, company: "五所川原精密工業株式会社", corporate: true, industry: "E", town: "五所川原市",
        contact: "成田 誠", email: "narita@goshogawara-seimitsu.example.jp", phone: "0173-00-0606",
        title: "設備稼働の見える化（IoT）", description: "旋盤とマシニングセンタ計12台の稼働状況を把握できていない。後付けセンサーで稼働率を見える化したい。",
        topics: &["IoT", "ものづくり"], channel: Ch::WalkIn, stage: Consult, priority: D, consent: true,
        steps: &[(50, Refer("center", "後付けセンサーによる稼働監視の実証をご相談ください。"))] },
    Demo { days_ago: 40, company: "株式会社津軽塗工房", corporate: false, industry: "E", town: "弘前市",
        contact: "葛西 直子", email: "kasai@tsugarunuri.example.jp", phone: "0172-00-0707",
        title: "伝統工芸品のオンライン販売と海外展開", description: "津軽塗の器を百貨店の催事で販売しているが、オンライン販売と海外向けの発信を始めたい。",
        topics: &["EC", "販路開拓", "インバウンド"], channel: Ch::Phone, stage: Know, priority: D, consent: true,
        steps: &[(6, Refer("kanko", "海外向け発信のご支援をお願いします。")),
                 (100, Withdraw("kanko", "まず国内のオンライン販売から始めることになったため。")),
                 (150, Refer("21", "国内向けオンライン販売の立ち上げをご支援ください。"))] },
    Demo { days_ago: 70, company: "三沢ベースサプライ株式会社", corporate: true, industry: "I", town: "三沢市",
        contact: "小笠原 拓也", email: "ogasawara@misawa-supply.example.jp", phone: "0176-00-0808",
        title: "IT導入補助金を使って販売管理ソフトを入れたい", description: "見積・請求を手書きで行っている。IT導入補助金の対象になる販売管理ソフトと申請手続きを知りたい。",
        topics: &["補助金", "業務効率化"], channel: Ch::WalkIn, stage: Know, priority: D, consent: true,
        steps: &[(2, ToStatus(S::InProgress)), (48, Note(Biz, "IT導入補助金の公募要領と、対象ツールの一覧をお送りしました。")),
                 (24, ToStage(Consult)), (200, Note(Desk, "IT導入支援事業者と面談済み。申請書の下書きを確認。")),
                 (150, Resolve(&[O::SubsidyApplied], "IT導入補助金（通常枠）に申請。販売管理ソフトの導入を予定。"))] },
    Demo { days_ago: 12, company: "黒石やきそば食品株式会社", corporate: true, industry: "E", town: "黒石市",
        contact: "福士 恵", email: "fukushi@kuroishi-yakisoba.example.jp", phone: "0172-00-0909",
        title: "生成AIの業務活用（商品説明・SNS投稿）", description: "商品説明文やSNS投稿の作成に時間がかかっている。生成AIを安全に業務で使う方法を知りたい。",
        topics: &["AI", "人材育成"], channel: Ch::Seminar, stage: Know, priority: D, consent: true,
        steps: &[(5, Refer("univ", "生成AIの業務活用についてご助言ください。")),
                 (40, Decline("univ", DeclineReason::OutOfScope, "研究対象と異なるため、実務支援の機関をご検討ください。")),
                 (200, Refer("npo", "生成AIの社内利用ルールと研修のご支援をお願いします。"))] },
    Demo { days_ago: 35, company: "平川建設株式会社", corporate: true, industry: "D", town: "平川市",
        contact: "三上 修", email: "mikami@hirakawa-kensetsu.example.jp", phone: "0172-00-1010",
        title: "現場写真・日報のクラウド共有", description: "現場の写真と日報を事務所に持ち帰って整理している。現場からスマートフォンで共有できるようにしたい。",
        topics: &["業務効率化", "クラウド"], channel: Ch::Phone, stage: Consult, priority: D, consent: true,
        steps: &[(4, ToStatus(S::InProgress)), (72, Note(Desk, "施工管理アプリ2社のデモを実施。現場監督の反応は良好。")),
                 (200, ToStatus(S::OnHold)), (2, Note(Biz, "社内の体制が整うまで一時保留とします。再開の際はご連絡ください。"))] },
    Demo { days_ago: 80, company: "あおもりデジタル印刷株式会社", corporate: true, industry: "E", town: "青森市",
        contact: "木村 真理", email: "kimura@aomori-dprint.example.jp", phone: "017-700-1111",
        title: "DX認定の取得を目指したい", description: "経営方針にDXを位置づけ、経済産業省のDX認定を取得したい。申請書の書き方と準備を相談したい。",
        topics: &["DX認定", "経営"], channel: Ch::WalkIn, stage: Consult, priority: D, consent: true,
        steps: &[(3, ToStatus(S::InProgress)), (100, Note(Desk, "DX戦略の素案を確認。KPIの設定に助言。")),
                 (400, Resolve(&[O::DxCertified], "DX認定を取得。認定後の取組も継続支援予定。")), (200, Close)] },
    Demo { days_ago: 30, company: "株式会社八戸ものづくりテック", corporate: true, industry: "E", town: "八戸市",
        contact: "坂本 大輔", email: "sakamoto@hachinohe-monotech.example.jp", phone: "0178-00-1212",
        title: "金属加工の不良率をデータ分析で下げたい", description: "プレス加工の不良率が3%前後で下がらない。加工条件と不良のデータを分析し、原因を突き止めたい。",
        topics: &["データ分析", "ものづくり", "AI"], channel: Ch::WalkIn, stage: Consult, priority: D, consent: true,
        steps: &[(5, Refer("hit", "加工データの分析について研究室のご支援をお願いします。")),
                 (2, Refer("center", "不良原因の計測・分析をご支援ください。")), (30, Accept("center", "機械加工担当が対応します。"))] },
    Demo { days_ago: 75, company: "株式会社つがるベーカリー", corporate: false, industry: "E", town: "つがる市",
        contact: "山内 美香", email: "yamauchi@tsugaru-bakery.example.jp", phone: "0173-00-1313",
        title: "POSデータを使った需要予測", description: "パンの廃棄ロスが多い。POSレジのデータから曜日・天候ごとの需要を予測し、製造数を決めたい。",
        topics: &["データ分析", "AI"], channel: Ch::Email, stage: Consult, priority: D, consent: true,
        steps: &[(6, Refer("univ", "需要予測モデルの試作をご検討ください。")), (24, Accept("univ", "情報科学の研究室で対応します。")),
                 (48, ToStage(Try)), (400, Complete("univ", "半年分のPOSデータで予測モデルを試作。廃棄ロスが約2割減。")),
                 (48, Resolve(&[O::TrialRun, O::ToolAdopted], "需要予測の試行で廃棄ロスを2割削減。予測表を日常業務に導入。")), (120, Close)] },
    Demo { days_ago: 2, company: "南部町フルーツ農園", corporate: false, industry: "A", town: "南部町",
        contact: "沢口 由美", email: "sawaguchi@nanbu-fruit.example.jp", phone: "0178-00-1414",
        title: "", description: "農産物直売所でキャッシュレス決済を始めたいです。\n手数料や端末の選び方がわからず、相談したいです。",
        topics: &[], channel: Ch::WebForm, stage: Know, priority: D, consent: true, steps: &[] },
    Demo { days_ago: 50, company: "野辺地ホームセンター株式会社", corporate: true, industry: "I", town: "野辺地町",
        contact: "田中 公平", email: "tanaka@noheji-hc.example.jp", phone: "0175-00-1515",
        title: "基幹システムの入れ替えと資金調達", description: "15年使っている販売管理システムの保守が終了する。クラウド型への入れ替えと、その資金を相談したい。",
        topics: &["資金調達", "業務効率化"], channel: Ch::WalkIn, stage: Consult, priority: Priority::High, consent: true,
        steps: &[(4, Refer("bank", "システム更新の設備資金のご相談です。")), (24, Accept("bank", "野辺地支店で対応します。")),
                 (200, Refer("hosho", "保証付き融資の可能性についてご相談ください。")),
                 (10, PartnerNote("bank", Shared, "見積書2社分を受領。保証協会の制度融資も併せて検討中。"))] },
    Demo { days_ago: 9, company: "株式会社大間マリンサービス", corporate: false, industry: "H", town: "大間町",
        contact: "浜田 徹", email: "hamada@oma-marine.example.jp", phone: "0175-00-1616",
        title: "漁船の運航管理アプリを作りたい", description: "遊漁船の予約と出港記録を紙で管理している。スマートフォンで使える運航管理の仕組みを知りたい。",
        topics: &["業務効率化"], channel: Ch::Phone, stage: Know, priority: D, consent: false,
        steps: &[(6, Note(Desk, "情報共有への同意は保留。まずは窓口での情報提供を希望。"))] },
    Demo { days_ago: 1, company: "合同会社鰺ヶ沢ツーリズム", corporate: false, industry: "N", town: "鰺ヶ沢町",
        contact: "白戸 翔", email: "shirato@ajigasawa-tour.example.jp", phone: "0173-00-1717",
        title: "体験ツアーのオンライン予約", description: "白神山地の体験ツアーの予約を電話で受けている。オンライン予約と事前決済を導入したい。",
        topics: &["観光", "EC"], channel: Ch::Email, stage: Consult, priority: D, consent: true,
        steps: &[(2, Refer("kanko", "観光事業者向けの予約システムのご支援をお願いします。"))] },
    Demo { days_ago: 55, company: "株式会社青森ケアサービス", corporate: true, industry: "P", town: "青森市",
        contact: "長内 由紀", email: "osanai@aomori-care.example.jp", phone: "017-700-1818",
        title: "介護記録のタブレット化", description: "介護記録を手書きしてから転記している。タブレットで記録し、請求業務まで連携させたい。",
        topics: &["業務効率化", "医療"], channel: Ch::WalkIn, stage: Consult, priority: D, consent: true,
        steps: &[(3, Refer("npo", "介護記録アプリの比較と職員研修をご支援ください。")),
                 (60, Withdraw("npo", "介護ソフトの販売店による支援を受けることになったため。")),
                 (24, ToStage(Try)), (48, Note(Biz, "試用版でのテスト運用の結果をお聞かせください。"))] },
    Demo { days_ago: 38, company: "板柳りんご加工株式会社", corporate: true, industry: "E", town: "板柳町",
        contact: "對馬 勝", email: "tsushima@itayanagi-apple.example.jp", phone: "0172-00-1919",
        title: "食品工場のHACCP記録をデジタル化", description: "温度記録や清掃記録を紙で残している。HACCPの記録をタブレットとセンサーで自動化したい。",
        topics: &["IoT", "ものづくり", "業務効率化"], channel: Ch::WalkIn, stage: Consult, priority: D, consent: true,
        steps: &[(4, Refer("center", "温度記録の自動化についてご支援ください。")), (20, Accept("center", "食品技術担当が対応します。")),
                 (96, PartnerNote("center", Shared, "冷蔵庫4台に無線温度ロガーを試験設置予定。")),
                 (24, Note(Biz, "技術センターの担当者が工場を訪問します。"))] },
    Demo { days_ago: 65, company: "七戸ファーム株式会社", corporate: true, industry: "A", town: "七戸町",
        contact: "附田 光", email: "tsukuda@shichinohe-farm.example.jp", phone: "0176-00-2020",
        title: "ドローンによる農薬散布の試行", description: "高齢化で散布作業の担い手が減っている。ドローン散布の効果と費用を試してから判断したい。",
        topics: &["農業", "実証"], channel: Ch::Phone, stage: Try, priority: D, consent: true,
        steps: &[(5, Refer("univ", "ドローン散布の効果検証をご検討ください。")), (40, Accept("univ", "農学系の研究室で対応します。")),
                 (500, Complete("univ", "2圃場で比較試験。作業時間は8割減、防除効果は慣行と同等。")),
                 (48, Resolve(&[O::TrialRun], "ドローン散布の試行を完了。来季から一部圃場で本格導入を検討。"))] },
    Demo { days_ago: 18, company: "株式会社三戸運送", corporate: true, industry: "H", town: "三戸町",
        contact: "松尾 浩", email: "matsuo@sannohe-unso.example.jp", phone: "0179-00-2121",
        title: "配車計画の自動化", description: "配車担当者の経験に頼って毎日の配車を組んでいる。システムで配車計画を作れないか相談したい。",
        topics: &["業務効率化", "データ分析"], channel: Ch::WalkIn, stage: Consult, priority: D, consent: true,
        steps: &[(3, Refer("univ", "配車最適化の研究についてご相談ください。")),
                 (50, Decline("univ", DeclineReason::NoCapacity, "今年度は共同研究の枠が埋まっています。")),
                 (290, Refer("center", "配車計画のデータ整理からご支援ください。"))] },
    Demo { days_ago: 15, company: "深浦シーサイドホテル株式会社", corporate: false, industry: "M", town: "深浦町",
        contact: "斉藤 明美", email: "saito@fukaura-seaside.example.jp", phone: "0173-00-2222",
        title: "人手不足対策としてフロント業務を省力化したい", description: "フロントの人手が足りない。セルフチェックインや予約の自動化について情報がほしい。",
        topics: &["観光", "業務効率化"], channel: Ch::Seminar, stage: Know, priority: D, consent: true,
        steps: &[(2, ToStatus(S::InProgress)), (30, Note(Biz, "宿泊業向けDXセミナー（来月開催）のご案内をお送りしました。"))] },
    Demo { days_ago: 85, company: "株式会社おいらせ精工", corporate: true, industry: "E", town: "おいらせ町",
        contact: "中野 康介", email: "nakano@oirase-seiko.example.jp", phone: "0178-00-2323",
        title: "サイバーセキュリティ対策の基本を知りたい", description: "取引先からセキュリティ対策の確認を求められた。何から始めればよいか相談したい。",
        topics: &["セキュリティ"], channel: Ch::WalkIn, stage: Know, priority: D, consent: true,
        steps: &[(2, ToStatus(S::InProgress)), (24, Note(Biz, "情報セキュリティ5か条とSECURITY ACTIONの資料をお送りしました。")),
                 (300, Resolve(&[O::AdviceOnly, O::TrainingCompleted], "SECURITY ACTION二つ星を宣言し、社員研修を実施。")), (100, Close)] },
    Demo { days_ago: 42, company: "藤崎町商店会協同組合", corporate: false, industry: "I", town: "藤崎町",
        contact: "今 義男", email: "kon@fujisaki-shotenkai.example.jp", phone: "0172-00-2424",
        title: "商店街共通ポイントのデジタル化", description: "紙のスタンプカードをやめ、スマートフォンで使える共通ポイントにしたい。加盟店は20店舗。",
        topics: &["販路開拓", "組合"], channel: Ch::Phone, stage: Consult, priority: D, consent: true,
        steps: &[(5, Refer("21", "商店街のデジタル化のご支援をお願いします。")),
                 (120, Withdraw("21", "組合内の合意形成を優先するため。")),
                 (2, ToStatus(S::OnHold)), (1, Note(Desk, "総会（来春）で方針が決まり次第、再開予定。"))] },
    Demo { days_ago: 1, company: "有限会社田子にんにく本舗", corporate: false, industry: "I", town: "田子町",
        contact: "川村 知子", email: "kawamura@takko-garlic.example.jp", phone: "0179-00-2525",
        title: "", description: "ネットショップの売上が伸び悩んでいます。アクセス解析の見方と改善方法を教えてほしいです。",
        topics: &[], channel: Ch::WebForm, stage: Consult, priority: D, consent: true, steps: &[] },
    Demo { days_ago: 48, company: "株式会社東北町ソーラー", corporate: true, industry: "F", town: "東北町",
        contact: "蛯名 隆", email: "ebina@tohoku-solar.example.jp", phone: "0176-00-2626",
        title: "発電設備の遠隔監視", description: "太陽光発電所5か所の巡回点検に手間がかかる。遠隔監視と異常検知の仕組みを試したい。",
        topics: &["IoT", "資金調達"], channel: Ch::WalkIn, stage: Try, priority: D, consent: true,
        steps: &[(4, Refer("center", "遠隔監視の実証をご支援ください。")), (3, Refer("bank", "監視設備の導入資金のご相談です。")),
                 (20, Accept("center", "電気電子担当が対応します。")), (22, Accept("bank", "十和田支店で対応します。")),
                 (300, Complete("bank", "設備資金の融資を実行しました。")),
                 (30, PartnerNote("center", Biz, "監視装置の設置は来月上旬の予定です。"))] },
    Demo { days_ago: 78, company: "株式会社ベイブリッジ会計", corporate: true, industry: "L", town: "青森市",
        contact: "神 由香", email: "jin@baybridge-kaikei.example.jp", phone: "017-700-2727",
        title: "電子帳簿保存法・インボイス制度への対応", description: "顧問先の中小企業から電子帳簿保存法の相談が多い。事務所の業務も含めて対応方法を整理したい。",
        topics: &["業務効率化", "クラウド"], channel: Ch::Email, stage: Consult, priority: D, consent: true,
        steps: &[(3, ToStatus(S::InProgress)), (150, Note(Desk, "クラウド会計と証憑保管サービスの組合せを提案。")),
                 (250, Resolve(&[O::ToolAdopted], "クラウド会計と証憑保管を導入し、電子取引データの保存に対応。")), (150, Close)] },
    Demo { days_ago: 22, company: "六ヶ所エンジニアリング株式会社", corporate: true, industry: "D", town: "六ヶ所村",
        contact: "橋本 剛", email: "hashimoto@rokkasho-eng.example.jp", phone: "0175-00-2828",
        title: "3次元CADと点群データの活用", description: "設備改修の図面を2次元CADで描いている。レーザースキャナの点群データと3次元CADを試したい。",
        topics: &["ものづくり", "実証"], channel: Ch::WalkIn, stage: Try, priority: D, consent: true,
        steps: &[(30, Refer("center", "点群計測と3次元CADの試用についてご支援ください。"))] },
    Demo { days_ago: 6, company: "外ヶ浜水産株式会社", corporate: false, industry: "B", town: "外ヶ浜町",
        contact: "奥崎 正", email: "okuzaki@sotogahama-suisan.example.jp", phone: "0174-00-2929",
        title: "漁獲データを記録するアプリ", description: "漁獲量と水揚げ場所を手帳に書いている。スマートフォンで記録して集計できるアプリを探している。",
        topics: &["データ分析"], channel: Ch::WalkIn, stage: Know, priority: Priority::Low, consent: true, steps: &[] },
    Demo { days_ago: 2, company: "株式会社横浜町菜の花ファーム", corporate: false, industry: "A", town: "横浜町",
        contact: "杉山 花", email: "sugiyama@nanohana-farm.example.jp", phone: "0175-00-3030",
        title: "菜の花油の6次産業化商品をEC販売したい", description: "菜の花油と加工品を道の駅で販売している。自社ECサイトとモール出店を比較して始めたい。",
        topics: &["EC", "販路開拓"], channel: Ch::Phone, stage: Consult, priority: D, consent: true,
        steps: &[(20, Refer("21", "EC販売の立ち上げをご支援ください。"))] },
    Demo { days_ago: 33, company: "株式会社弘前テキスタイル", corporate: true, industry: "E", town: "弘前市",
        contact: "今井 俊", email: "imai@hirosaki-textile.example.jp", phone: "0172-00-3131",
        title: "受発注のEDI化", description: "取引先との受発注をFAXで行っている。EDIに切り替えて入力の手間とミスを減らしたい。",
        topics: &["業務効率化", "データ分析"], channel: Ch::WalkIn, stage: Consult, priority: D, consent: true,
        steps: &[(4, Refer("univ", "業務プロセス分析についてご助言ください。")), (30, Accept("univ", "経営学の研究室で対応します。")),
                 (48, Note(Desk, "主要取引先3社のうち2社は既にEDI対応済み。")),
                 (72, PartnerNote("univ", Shared, "業務フローの聞き取りを実施。FAX受注は月約600件。"))] },
    Demo { days_ago: 58, company: "平内ホタテ養殖組合", corporate: false, industry: "B", town: "平内町",
        contact: "小山内 隆", email: "osanai@hiranai-hotate.example.jp", phone: "017-700-3232",
        title: "養殖いかだの水温をIoTで監視したい", description: "高水温によるホタテのへい死が続いた。養殖いかだの水温を常時測って早めに対策したい。",
        topics: &["IoT", "資金調達"], channel: Ch::WalkIn, stage: Try, priority: Priority::Urgent, consent: true,
        steps: &[(3, Refer("center", "水温監視ブイの実証をご支援ください。")), (3, Refer("bank", "監視機器の導入資金のご相談です。")),
                 (20, Accept("center", "水産担当が対応します。")),
                 (30, Decline("bank", DeclineReason::NotEligible, "組合向けの制度融資の対象外のため。")),
                 (400, Complete("center", "水温ブイ3基で夏季の連続観測を実施。警報メールの運用を開始。")),
                 (48, Resolve(&[O::TrialRun], "水温監視の実証を完了。警報に基づく早期の沈下作業で被害を抑制。"))] },
    Demo { days_ago: 27, company: "株式会社階上ウッドワークス", corporate: true, industry: "E", town: "階上町",
        contact: "大久保 学", email: "okubo@hashikami-wood.example.jp", phone: "0178-00-3333",
        title: "社内のDX人材を育てたい", description: "デジタルに詳しい社員がいない。若手社員向けのDX研修やリスキリングの支援制度を知りたい。",
        topics: &["人材育成"], channel: Ch::Seminar, stage: Know, priority: D, consent: true,
        steps: &[(50, Refer("kogyokai", "会員企業向け研修のご案内をお願いします。"))] },
    Demo { days_ago: 0, company: "有限会社ごのへ馬肉店", corporate: false, industry: "I", town: "五戸町",
        contact: "石橋 健太", email: "ishibashi@gonohe-baniku.example.jp", phone: "0178-00-3434",
        title: "", description: "SNSでの発信を強化したいです。生成AIを使って投稿文や写真の説明を作れるか知りたいです。",
        topics: &[], channel: Ch::WebForm, stage: Know, priority: D, consent: true, steps: &[] },
    Demo { days_ago: 44, company: "株式会社つがる市民バス", corporate: true, industry: "H", town: "つがる市",
        contact: "鳴海 浩二", email: "narumi@tsugaru-bus.example.jp", phone: "0173-00-3535",
        title: "バスロケーションシステムの導入", description: "路線バスの遅れの問い合わせが多い。バスの現在地をスマートフォンで見られるようにしたい。",
        topics: &["IoT", "観光"], channel: Ch::Phone, stage: Consult, priority: D, consent: true,
        steps: &[(3, ToStatus(S::InProgress)), (100, Note(Desk, "市の地域公共交通計画の見直し待ち。")), (2, ToStatus(S::OnHold))] },
    Demo { days_ago: 0, company: "合同会社白神ガイドサービス", corporate: false, industry: "N", town: "西目屋村",
        contact: "工藤 陸", email: "kudo@shirakami-guide.example.jp", phone: "0172-00-3636",
        title: "多言語ガイドに生成AIを活用したい", description: "外国人観光客向けのガイド資料を多言語で用意したい。生成AIの翻訳の品質を確かめたい。",
        topics: &["AI", "観光", "インバウンド"], channel: Ch::WalkIn, stage: Consult, priority: D, consent: true,
        steps: &[(1, Refer("univ", "生成AIによる多言語化の品質評価についてご相談ください。"))] },
    Demo { days_ago: 36, company: "株式会社新郷牧場", corporate: true, industry: "A", town: "新郷村",
        contact: "沼畑 洋", email: "numahata@shingo-farm.example.jp", phone: "0178-00-3737",
        title: "牛の健康管理センサーを試したい", description: "肉用牛の発情や体調の変化を見逃している。首輪型センサーで健康状態を管理したい。",
        topics: &["IoT", "農業"], channel: Ch::WalkIn, stage: Consult, priority: D, consent: true,
        steps: &[(4, Refer("center", "畜産センサーの実証をご支援ください。")), (24, Accept("center", "畜産担当が対応します。")),
                 (48, ToStage(Try)), (100, PartnerNote("center", Shared, "センサー10頭分を貸与。データは週1回確認。"))] },
    Demo { days_ago: 86, company: "大鰐温泉観光株式会社", corporate: true, industry: "M", town: "大鰐町",
        contact: "相馬 千夏", email: "soma@owani-onsen.example.jp", phone: "0172-00-3838",
        title: "予約・顧客管理の一元化", description: "旅館3館の予約と顧客情報がばらばらに管理されている。一元管理して再来客を増やしたい。",
        topics: &["観光", "資金調達", "業務効率化"], channel: Ch::WalkIn, stage: Consult, priority: D, consent: true,
        steps: &[(3, Refer("bank", "システム導入と補助金のつなぎ資金のご相談です。")), (24, Accept("bank", "弘前支店で対応します。")),
                 (300, Complete("bank", "つなぎ融資を実行。補助金は採択済み。")),
                 (24, Resolve(&[O::ToolAdopted, O::SubsidyGranted], "予約・顧客管理システムを3館に導入。補助金に採択。")), (200, Close)] },
    Demo { days_ago: 4, company: "株式会社今別ファクトリー", corporate: false, industry: "E", town: "今別町",
        contact: "三浦 聡", email: "miura@imabetsu-factory.example.jp", phone: "0174-00-3939",
        title: "生産管理システムの選び方", description: "受注生産の進捗をホワイトボードで管理している。小規模工場向けの生産管理システムを選びたい。",
        topics: &["ものづくり", "業務効率化"], channel: Ch::Phone, stage: Know, priority: D, consent: true, steps: &[] },
    Demo { days_ago: 16, company: "株式会社むつ下北メディカル", corporate: true, industry: "P", town: "むつ市",
        contact: "高田 恵子", email: "takada@shimokita-medical.example.jp", phone: "0175-00-4040",
        title: "オンライン診療・オンライン相談の導入", description: "下北半島の遠隔地の患者のため、オンライン診療と服薬相談の仕組みを導入したい。",
        topics: &["医療", "データ分析"], channel: Ch::Email, stage: Consult, priority: Priority::High, consent: true,
        steps: &[(4, Refer("univ", "医学部の遠隔医療の知見についてご相談ください。"))] },
    Demo { days_ago: 68, company: "株式会社よもぎた米穀", corporate: false, industry: "I", town: "蓬田村",
        contact: "北山 茂", email: "kitayama@yomogita-rice.example.jp", phone: "017-700-4141",
        title: "受発注FAXの電子化", description: "取引先からの注文をFAXで受けている。電子化の方法を知りたい。",
        topics: &["業務効率化"], channel: Ch::Seminar, stage: Know, priority: Priority::Low, consent: true,
        steps: &[(2, ToStatus(S::InProgress)), (48, Note(Biz, "FAX受注を電子化するサービスの資料をお送りしました。")),
                 (100, Resolve(&[O::AdviceOnly], "情報提供で完了。社内で検討するとのこと。"))] },
];

/// The 13-digit 法人番号 of the `i`-th demo business (fictitious, valid check digit).
fn corporate_number(i: usize) -> String {
    let body = format!("90001{:07}", i + 1);
    format!("{}{body}", check_digit(&body))
}

/// Who acts in the demo.
struct Cast {
    desk: Viewer,
    partners: HashMap<&'static str, Viewer>,
    institutions: HashMap<&'static str, Uuid>,
}

/// Adds the demo cases to the Aomori lab; returns how many were added (0
/// when they are there already or the lab and accounts are missing).
pub async fn seed_cases(state: &AppState) -> anyhow::Result<usize> {
    let store = state.store.as_ref();
    let Some(lab) = store.lab_by_code("AOM").await? else {
        return Ok(0);
    };
    if !store
        .search_businesses(lab.id, DEMOS[0].company, 1)
        .await?
        .is_empty()
    {
        return Ok(0);
    }
    let Some(concierge) = store.user_by_email("concierge@aomori.example").await? else {
        return Ok(0);
    };
    let mut partners = HashMap::new();
    for (key, email) in PARTNER_ACCOUNTS {
        if let Some(u) = store.user_by_email(email).await? {
            partners.insert(*key, u.viewer());
        }
    }
    let all = store.institutions(lab.id).await?;
    let institutions: HashMap<&'static str, Uuid> = INSTITUTIONS
        .iter()
        .filter_map(|(k, name)| all.iter().find(|i| i.name == *name).map(|i| (*k, i.id)))
        .collect();
    let cast = Cast {
        desk: concierge.viewer(),
        partners,
        institutions,
    };

    // A clock of our own, set back to each step's time.
    let real_now = state.now();
    let clock = FixedClock::new(real_now);
    let st = AppState::with_clock(
        state.store.clone(),
        (*state.config).clone(),
        Arc::new(clock.clone()),
    );
    let mut order: Vec<(usize, &Demo)> = DEMOS.iter().enumerate().collect();
    order.sort_by_key(|(i, d)| (std::cmp::Reverse(d.days_ago), *i));
    let mut added = 0;
    for (i, demo) in order {
        play(&st, &clock, real_now, &cast, i, demo)
            .await
            .with_context(|| format!("demo case {:?}", demo.company))?;
        added += 1;
    }
    Ok(added)
}

/// 10:00 JST `days` days before `now` (never later than an hour ago).
fn opened_at(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    let day = jst::date_of(now - Duration::days(days));
    (jst::start_of_day(day) + Duration::hours(10)).min(now - Duration::hours(3))
}

async fn play(
    st: &AppState,
    clock: &FixedClock,
    real_now: DateTime<Utc>,
    cast: &Cast,
    i: usize,
    d: &Demo,
) -> anyhow::Result<()> {
    let mut t = opened_at(real_now, d.days_ago);
    clock.set(t);
    let business = BusinessFields {
        name: d.company.to_owned(),
        corporate_number: d.corporate.then(|| corporate_number(i)),
        industry: Some(d.industry.to_owned()),
        municipality: Some(d.town.to_owned()),
        contact_name: Some(d.contact.to_owned()),
        email: Some(d.email.to_owned()),
        phone: Some(d.phone.to_owned()),
    };
    let case_id = if d.channel == Channel::WebForm {
        let (reference, _code) = consultation::submit(
            st,
            Consultation {
                business,
                description: d.description.to_owned(),
                stage: Some(d.stage),
                consent_to_share: d.consent,
                website: None,
                lab_code: Some("AOM".to_owned()),
            },
            &format!("seed-demo-{i}"),
        )
        .await?;
        st.store
            .case_by_reference(&reference)
            .await?
            .ok_or_else(|| anyhow::anyhow!("web-form case {reference} vanished"))?
            .id
    } else {
        let (snap, _code) = svc::open_case(
            st,
            &cast.desk,
            svc::OpenCase {
                business_id: None,
                business: Some(business),
                title: d.title.to_owned(),
                description: d.description.to_owned(),
                topics: d.topics.iter().map(|s| (*s).to_owned()).collect(),
                channel: d.channel,
                stage: d.stage,
                consent_to_share: d.consent,
                email_updates: false,
                priority: Some(d.priority),
                assigned_to: None,
            },
        )
        .await?;
        snap.case.id
    };
    let mut referral_of: HashMap<&str, Uuid> = HashMap::new();
    for (hours, act) in d.steps {
        t = (t + Duration::hours(*hours)).min(real_now - Duration::minutes(1));
        clock.set(t);
        step(st, cast, case_id, &mut referral_of, *act)
            .await
            .map_err(anyhow::Error::from)
            .with_context(|| format!("step {act:?}"))?;
    }
    Ok(())
}

async fn version(st: &AppState, case_id: Uuid) -> Result<i32, AppError> {
    let row = st
        .store
        .case_by_id(case_id)
        .await?
        .ok_or_else(|| AppError::not_found("相談", "Case"))?;
    Ok(row.version as i32)
}

async fn step(
    st: &AppState,
    cast: &Cast,
    case_id: Uuid,
    referral_of: &mut HashMap<&'static str, Uuid>,
    act: Act,
) -> Result<(), AppError> {
    let desk = &cast.desk;
    let missing = |what: &str| AppError::internal(anyhow::anyhow!("demo: {what} missing"));
    let partner = |key: &str| cast.partners.get(key).ok_or_else(|| missing(key));
    let referral =
        |key: &str, map: &HashMap<&str, Uuid>| map.get(key).copied().ok_or_else(|| missing(key));
    match act {
        Refer(key, note) => {
            let inst = cast
                .institutions
                .get(key)
                .copied()
                .ok_or_else(|| missing(key))?;
            let r = referrals::refer_case(st, desk, case_id, Some(inst), Some(note.into())).await?;
            referral_of.insert(key, r.id);
        }
        Accept(key, note) => {
            let action = Action::Accept {
                note: Some(note.into()),
            };
            referrals::act(st, partner(key)?, referral(key, referral_of)?, action).await?;
        }
        Decline(key, reason, note) => {
            let action = Action::Decline {
                reason,
                note: Some(note.into()),
            };
            referrals::act(st, partner(key)?, referral(key, referral_of)?, action).await?;
        }
        Complete(key, summary) => {
            let action = Action::Complete {
                summary: summary.into(),
            };
            referrals::act(st, partner(key)?, referral(key, referral_of)?, action).await?;
        }
        Withdraw(key, note) => {
            let action = Action::Withdraw {
                note: Some(note.into()),
            };
            referrals::act(st, desk, referral(key, referral_of)?, action).await?;
        }
        Note(vis, body) => {
            notes::add_note(st, desk, case_id, body, vis).await?;
        }
        PartnerNote(key, vis, body) => {
            notes::add_note(st, partner(key)?, case_id, body, vis).await?;
        }
        ToStage(stage) => {
            let v = version(st, case_id).await?;
            svc::set_stage(st, desk, case_id, v, stage, None).await?;
        }
        ToStatus(status) => {
            let v = version(st, case_id).await?;
            svc::set_status(st, desk, case_id, v, status, None).await?;
        }
        Resolve(outcomes, summary) => {
            let v = version(st, case_id).await?;
            svc::resolve_case(st, desk, case_id, v, outcomes.to_vec(), summary.into()).await?;
        }
        Close => {
            svc::close_case(st, desk, case_id).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_data_is_valid() {
        assert!((38..=45).contains(&DEMOS.len()), "{}", DEMOS.len());
        let labs = crate::seed::labs::reference_labs().unwrap();
        let aom = labs.labs.iter().find(|l| l.code == "AOM").unwrap();
        let mut names = std::collections::HashSet::new();
        for (i, d) in DEMOS.iter().enumerate() {
            assert!(names.insert(d.company), "duplicate {}", d.company);
            assert!(
                aom.regions
                    .iter()
                    .any(|r| r.municipalities.iter().any(|m| m == d.town)),
                "{} is not an Aomori municipality",
                d.town
            );
            assert!(crate::domain::CorporateNumber::parse(&corporate_number(i)).is_ok());
            crate::domain::validation::email("email", d.email).unwrap();
            crate::domain::validation::phone("phone", d.phone).unwrap();
            crate::domain::validation::jsic_division(d.industry).unwrap();
            assert_eq!(
                d.title.is_empty(),
                d.channel == Channel::WebForm,
                "{}",
                d.company
            );
            for (_, act) in d.steps {
                let key = match act {
                    Refer(k, _) | Withdraw(k, _) => Some(*k),
                    _ => None,
                };
                if let Some(k) = key {
                    assert!(INSTITUTIONS.iter().any(
                        |(x, name)| x == &k && aom.institutions.iter().any(|i| &i.name == name)
                    ));
                }
                if let Accept(k, _) | Decline(k, _, _) | Complete(k, _) | PartnerNote(k, _, _) = act
                {
                    assert!(
                        PARTNER_ACCOUNTS.iter().any(|(x, _)| x == k),
                        "{k} has no account"
                    );
                }
            }
        }
    }
}
