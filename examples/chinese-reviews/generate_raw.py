"""Write the chinese-reviews example's raw data: a Chinese shop's support Q&A and review replies, messy, seeded.

Run from the repository root: `python examples/chinese-reviews/generate_raw.py`. It writes
`examples/chinese-reviews/raw/qa.jsonl` (support chats: `question`, `answer`, `product`) and
`raw/reviews.jsonl` (reviews and the shop's reply: `review`, `reply`, `stars`), about 600 records.

Planted dirt: exact duplicates (the export ran twice), near-duplicates (one or two characters changed: a
typo, a digit, a full-width comma turned half-width), full-width and half-width punctuation mixed in
ordinary records (kept as written), repeated promotion lines, a navigation menu, character soup, one-word
junk, English tickets, and mixed Chinese/English tickets with code snippets.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).parent
PRODUCTS = ["笔记本电脑", "蓝牙耳机", "电饭煲", "空气净化器", "跑步鞋", "电动牙刷", "扫地机器人", "智能手表",
            "咖啡机", "台灯", "行李箱", "洗衣机"]
WHEN = ["上个月", "上周", "前天", "三天前", "半个月前", "去年双十一", "昨天晚上", "两个星期前"]
# each problem: how the customer says it, and the answer's steps (three are picked, in random order)
PROBLEMS = {
    "无法开机": ("收到以后按了电源键一直没有反应，充了一晚上电也不行",
             ["请先用原装的充电器充电半小时以上，再长按电源键十秒钟", "如果指示灯完全不亮，可能是电池保护，请拔掉电源后静置五分钟",
              "请检查一下插座是否有电，可以换一个插座试试", "机器背面有一个复位孔，可以用卡针按住三秒钟",
              "如果以上方法都不行，说明可能是主板的问题，我们可以为您安排换货", "您也可以把故障的视频发给我们，技术人员会帮您判断"]),
    "声音很大": ("用的时候噪音特别大，晚上根本没法用，和页面上写的静音完全不一样",
             ["请确认机器放在平整的地面上，四个支脚都要接触地面", "运输时用的固定螺丝如果没有拆下来，也会产生很大的噪音",
              "可以在设置里打开夜间模式，转速会降低一半左右", "请检查一下滤网或者滚刷上有没有缠绕的头发和杂物",
              "如果声音是金属摩擦的声音，请立即停止使用并联系我们", "新机器前两天声音稍大是正常的，磨合以后会好一些"]),
    "连不上": ("手机一直搜不到设备，蓝牙和无线网络都试过了，还是连不上",
            ["请先在手机的设置里删除原来的配对记录，再重新搜索", "请确认设备处于配对模式，指示灯应该是快速闪烁的",
             "部分手机需要打开定位权限才能搜索到设备，请在应用设置里打开", "请把应用更新到最新版本，旧版本有一个连接的问题",
             "路由器如果是五吉赫兹的网络，设备暂时不支持，请切换到二点四吉赫兹", "也可以试着重启一下手机和设备，再重新连接"]),
    "退货": ("东西不太合适，想退货，但是包装已经拆开了，不知道还能不能退",
           ["商品在签收后七天内，不影响二次销售的情况下可以申请无理由退货", "请在订单页面点击申请售后，选择退货退款并填写原因",
            "退货的时候请把配件和说明书一起放回原包装里", "我们收到商品并检查没有问题以后，三个工作日内会把钱退回原账户",
            "如果是质量问题导致的退货，来回的运费由我们承担", "拆开包装不影响退货，只要商品本身没有使用痕迹就可以"]),
    "发货慢": ("下单已经好几天了，物流信息一直没有更新，请问什么时候能发货",
            ["最近订单比较多，仓库正在加紧处理，一般四十八小时内会发出", "您的订单已经打包好了，今天下午会交给快递公司",
             "发货以后快递单号会通过短信发送到您的手机上", "如果您着急使用，我们可以帮您换成顺丰快递，不需要另外付费",
             "偏远地区的物流时间会长一些，请您耐心等待", "超过五天没有物流信息的话，我们会主动联系您并给您补偿"]),
    "充电慢": ("充电要好几个小时才能充满，而且充电的时候机身很烫",
            ["请使用包装里附带的充电器和数据线，其他的充电器功率可能不够", "充电的时候机身温度稍高是正常的，但是不应该烫手",
             "请不要一边充电一边使用，这样会让充电时间变长", "如果数据线接口有松动，请更换一根新的数据线试试",
             "电池在低温环境下充电会变慢，建议在室温下充电", "如果烫得很厉害，请停止充电，我们会为您安排检测"]),
    "发票": ("公司报销需要发票，下单的时候忘记填写了，现在还能开吗",
           ["订单完成后九十天内都可以在订单详情页申请开具电子发票", "请填写公司的名称和税号，电子发票会发送到您的邮箱",
            "如果需要纸质的增值税专用发票，请联系客服提供开票资料", "发票的金额以实际支付的金额为准，优惠券的部分不包含在内",
            "一般情况下电子发票会在二十四小时内开好", "如果发票信息填错了，可以申请作废以后重新开具"]),
    "缺配件": ("打开箱子发现少了一个配件，说明书上写的充电底座没有看到",
            ["非常抱歉，可能是仓库打包的时候遗漏了", "请您拍一张箱子里所有物品的照片发给我们", "我们核实以后会在二十四小时内给您补发配件",
             "补发的配件不需要您支付任何费用", "有些型号的充电底座是单独包装的，请您再检查一下泡沫下面", "补发以后会把快递单号发给您"]),
}
GREETING = ["你好，", "您好，", "在吗？", "客服你好，", "", "打扰一下，"]
ASK = ["请问怎么办？", "这个要怎么处理呢？", "麻烦帮我看一下。", "能不能尽快处理一下？", "急用，谢谢！"]
SORRY = ["您好，非常抱歉给您带来了不便。", "您好，感谢您的耐心说明。", "亲，您好，让您久等了。", "您好，很抱歉听到这个情况。"]
CLOSING = ["如果还有其他问题，欢迎随时联系我们。", "祝您生活愉快！", "感谢您对我们店铺的支持。", "有任何问题请随时留言给我们。"]
PRAISE = ["质量很好，做工很精致", "外观很漂亮，和图片上一样", "用起来很方便，家里人都很喜欢", "性价比很高，比实体店便宜不少",
          "物流很快，第二天就到了", "包装很严实，没有任何磕碰"]
COMPLAIN = ["说明书写得不太清楚", "颜色比图片上稍微深一点", "价格有点贵", "快递员态度一般", "有一点塑料的味道", "尺寸比想象中小"]
USAGE = ["每天早上都会用一次", "主要是周末在家里用", "给父母买的，他们用得很顺手", "出差的时候带着用", "办公室里同事也买了一台",
         "已经推荐给了好几个朋友", "之前用的是别的牌子，对比下来这台更好", "刚开始不太会用，看了视频以后就明白了"]
REPLY = ["感谢您的好评，您的满意是我们最大的动力。", "谢谢亲的支持，我们会继续努力做得更好。", "感谢您的反馈，您提到的问题我们已经转给了相关部门。",
         "谢谢您的建议，我们会在下一批产品中改进。"]
JUNK = [
    "\n".join(["限时特价，全场商品一律五折，欢迎选购！"] * 12 + ["联系电话请见页面底部。"]),
    "\n".join("首页 商品分类 新品上市 热卖推荐 会员中心 购物车 我的订单 帮助中心 联系我们 关于我们".split()),
    "好评好评好评" * 40,
    "，".join(["便宜耳机", "耳机批发", "二手耳机", "耳机维修", "耳机配件"] * 15) + "。",
    "\n".join(["亲，在的，请问有什么可以帮您？"] * 10),
]
WORD_JUNK = ["好", "？？？", "在吗", "。。。", "测试"]
ENGLISH = [
    ("My order arrived with a cracked screen, what should I do?", "Sorry about that! Please send us a photo and we will ship a replacement."),
    ("Do you ship to Canada and how long does it take?", "Yes, we ship to Canada. Delivery usually takes seven to ten business days."),
    ("The app keeps crashing on my phone after the last update.", "Please reinstall the app; version 2.3.1 fixes the crash."),
    ("Can I change the delivery address after paying?", "Yes, as long as the parcel has not left the warehouse. Send us the new address."),
]
MIXED = [
    ("我用Python调用你们的API，返回401错误，代码如下：\n```python\nimport requests\nr = requests.get(url, headers={'token': key})\nprint(r.status_code)\n```\n请问哪里写错了？",
     "您好，请求头的名字应该是 Authorization，值是 Bearer 加上您的密钥，例如：\n```python\nheaders = {'Authorization': f'Bearer {key}'}\n```\n修改以后就可以正常返回了。"),
    ("智能手表的 SDK 在 Android 上编译失败，报错 `Could not find method implementation()`，Gradle 版本是 4.2。请问要怎么解决？",
     "您好，SDK 需要 Gradle 7.0 以上的版本。请升级以后重新同步项目。如果还有问题，请把完整的日志发给我们。"),
    ("导出订单的脚本 `curl -X GET https://api.example.com/orders?page=1` 只返回了二十条。怎么拿到全部？",
     "您好，接口默认每页二十条。可以加上参数 page_size=100，然后按 page 翻页获取全部订单。每分钟最多请求六十次。"),
]


def halfwidth(rng: random.Random, text: str) -> str:
    """Some customers type on an English keyboard: a few full-width marks become ASCII."""
    swaps = {"，": ",", "？": "?", "！": "!", "：": ":"}
    return "".join(swaps[c] if c in swaps and rng.random() < 0.5 else c for c in text)


def qa(rng: random.Random) -> dict:
    product, problem = rng.choice(PRODUCTS), rng.choice(list(PROBLEMS))
    said, steps = PROBLEMS[problem]
    order = rng.randint(100000, 999999)
    q = f"{rng.choice(GREETING)}我{rng.choice(WHEN)}在你们店买了一台{product}，订单号是{order}，{said}。{rng.choice(ASK)}"
    a = rng.choice(SORRY) + "关于您的" + product + "，" + "。".join(rng.sample(steps, 3)) + "。" + rng.choice(CLOSING)
    if rng.random() < 0.25:
        q = halfwidth(rng, q)
    return {"question": q, "answer": a, "product": product}


def review(rng: random.Random) -> dict:
    product = rng.choice(PRODUCTS)
    good, bad = rng.sample(PRAISE, 2), rng.choice(COMPLAIN)
    days = rng.randint(2, 60)
    use = "，".join(rng.sample(USAGE, 2))
    text = (f"这台{product}用了{days}天，{good[0]}，{good[1]}。{use}。不过{bad}，希望商家能改进。"
            f"总体来说还是推荐购买的，{rng.choice(good[:1] + PRAISE)}。")
    if rng.random() < 0.25:
        text = halfwidth(rng, text)
    reply = "".join(rng.sample(REPLY, 2)) + rng.choice(CLOSING)
    return {"review": text, "reply": reply, "stars": rng.choice([3, 4, 4, 5, 5])}


def near_copy(rng: random.Random, text: str) -> str:
    """One or two characters changed: a typo, a digit, a comma typed half-width."""
    chars = list(text)
    for _ in range(rng.choice([1, 2])):
        i = rng.randrange(len(chars))
        chars[i] = {"，": ",", "。": "！"}.get(chars[i], rng.choice("的了是在我有这个"))
    return "".join(chars)


def build(seed: int = 11) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    chats = [qa(rng) for _ in range(330)]
    reviews = [review(rng) for _ in range(200)]
    chats += [dict(r) for r in rng.sample(chats, 15)]  # exact duplicates: the export ran twice
    reviews += [dict(r) for r in rng.sample(reviews, 10)]
    for r in rng.sample(chats[:330], 15):  # near-duplicates: the same ticket re-sent with a typo
        chats.append({**r, "question": near_copy(rng, r["question"]), "answer": r["answer"]})
    for r in rng.sample(reviews[:200], 8):
        reviews.append({**r, "review": near_copy(rng, r["review"])})
    for text in JUNK:
        chats.append({"question": text, "answer": text, "product": ""})
    common = sorted(set("".join(PRAISE + COMPLAIN + USAGE)) - set("，。"))
    for _ in range(3):  # character soup: a scraper's broken encoding guess, one character after another
        soup = "".join(rng.choice(common) for _ in range(rng.randint(80, 200)))
        chats.append({"question": soup, "answer": soup[::-1], "product": ""})
    for text in WORD_JUNK:
        chats.append({"question": text, "answer": "您好，请问有什么可以帮您？", "product": ""})
    for q, a in ENGLISH:
        chats.append({"question": q, "answer": a, "product": "export"})
    for q, a in MIXED:
        chats.append({"question": q, "answer": a, "product": "开发者"})
    rng.shuffle(chats)
    rng.shuffle(reviews)
    return chats, reviews


def main() -> None:
    chats, reviews = build()
    raw = HERE / "raw"
    raw.mkdir(exist_ok=True)
    for name, rows in (("qa.jsonl", chats), ("reviews.jsonl", reviews)):
        (raw / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(chats)} support chats and {len(reviews)} reviews to {raw}")


if __name__ == "__main__":
    main()
