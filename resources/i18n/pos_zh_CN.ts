<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN" sourcelanguage="en">
  <context>
    <name>BasketModel</name>
    <message>
      <source>Item</source>
      <extracomment>The rule set and the identified member's tier a basket is priced for (None: no member).</extracomment>
      <translation>商品</translation>
    </message>
    <message>
      <source>Qty</source>
      <translation>数量</translation>
    </message>
    <message>
      <source>Price</source>
      <translation>单价</translation>
    </message>
    <message>
      <source>Discount</source>
      <translation>优惠</translation>
    </message>
    <message>
      <source>Amount</source>
      <translation>金额</translation>
    </message>
    <message>
      <source>{price}/kg</source>
      <translation>{price}/kg</translation>
    </message>
    <message>
      <source>A weighed item's weight comes from its scale label: weigh it again.</source>
      <translation>称重商品的重量来自秤签，请重新称重。</translation>
    </message>
    <message>
      <source>The quantity must be a whole number from 1 to 9999 (got {qty}).</source>
      <translation>数量须为 1 到 9999 的整数（输入的是 {qty}）。</translation>
    </message>
    <message>
      <source>The discount must be an amount from 0 to the line amount {amount}.</source>
      <translation>优惠金额须在 0 到本行金额 {amount} 之间。</translation>
    </message>
  </context>
  <context>
    <name>CheckoutScreen</name>
    <message>
      <source>Scan or type: barcode / SKU, member code, phone, last 4 digits, receipt no.</source>
      <extracomment>The receipt handed over last (a sale's or a refund's), for Ctrl+P.</extracomment>
      <translation>扫码或输入：商品条码/编码、会员码、手机号、手机尾号 4 位、小票号</translation>
    </message>
    <message>
      <source>Enter</source>
      <translation>确认</translation>
    </message>
    <message>
      <source>Del  Remove line</source>
      <translation>Del  删除商品</translation>
    </message>
    <message>
      <source>Double-click a quantity or discount to change it.</source>
      <translation>双击数量或优惠可修改。</translation>
    </message>
    <message>
      <source>The quantity must be a whole number from 1 to 9999 (got {qty}).</source>
      <translation>数量须为 1 到 9999 的整数（输入的是 {qty}）。</translation>
    </message>
    <message>
      <source>A quantity can only go before a product code.</source>
      <translation>数量只能写在商品条码前面（如 3*条码）。</translation>
    </message>
    <message>
      <source>Press F2 to register this number.</source>
      <translation>按 F2 用此号码注册会员。</translation>
    </message>
    <message>
      <source>No member's phone number ends in these 4 digits.</source>
      <translation>没有会员的手机尾号是这 4 位。</translation>
    </message>
    <message>
      <source>{points} points</source>
      <translation>{points} 积分</translation>
    </message>
    <message>
      <source>Choose the member</source>
      <translation>选择会员</translation>
    </message>
    <message>
      <source>Members whose phone ends in these digits (press 1-9 or Enter):</source>
      <translation>手机尾号匹配的会员（按 1-9 或回车选择）：</translation>
    </message>
    <message>
      <source>A weighed item cannot take a quantity.</source>
      <translation>称重商品不能输入数量。</translation>
    </message>
    <message>
      <source>No member's phone number starts and ends with these digits.</source>
      <translation>没有会员的手机号以这 3 位开头、这 4 位结尾。</translation>
    </message>
    <message>
      <source>Members whose phone starts and ends with these digits (press 1-9 or Enter):</source>
      <translation>手机号前 3 位和后 4 位匹配的会员（按 1-9 或回车选择）：</translation>
    </message>
    <message>
      <source>More members match: the 9 seen most recently are shown. Not here? Esc, then type the first 3 digits too, e.g. 138*{last4}, or scan the member code.</source>
      <translation>匹配的会员较多，仅显示最近到店的 9 位。没有要找的？按 Esc，再连同前 3 位一起输入，例如 138*{last4}，或扫描会员码。</translation>
    </message>
    <message>
      <source>Member registered: {phone}, {points} points welcome bonus.</source>
      <translation>会员注册成功：{phone}，赠送 {points} 积分。</translation>
    </message>
    <message>
      <source>Points reduced to {points}. {reason}</source>
      <translation>使用积分已调整为 {points}。{reason}</translation>
    </message>
    <message>
      <source>The basket is empty: scan a product first.</source>
      <translation>购物车是空的：请先扫描商品。</translation>
    </message>
    <message>
      <source>Still working out the totals, a moment please.</source>
      <translation>正在计算金额，请稍候。</translation>
    </message>
    <message>
      <source>Identify the member first: scan the member code or type the phone.</source>
      <translation>请先识别会员：扫会员码或输入手机号。</translation>
    </message>
    <message>
      <source>Sale {receipt} complete.</source>
      <translation>交易 {receipt} 已完成。</translation>
    </message>
    <message>
      <source>This sale earned {points} points; HQ adds them to the balance.</source>
      <translation>本单获得 {points} 积分，由总部计入余额。</translation>
    </message>
    <message>
      <source>This sale earned {points} points; balance now {balance} points.</source>
      <translation>本单获得 {points} 积分，积分余额 {balance}。</translation>
    </message>
    <message>
      <source>Change due: {change}.</source>
      <translation>找零 {change}。</translation>
    </message>
    <message>
      <source>There is nothing to hold.</source>
      <translation>没有可挂的单。</translation>
    </message>
    <message>
      <source>Basket held. {count} held basket(s); F7 recalls.</source>
      <translation>已挂单。共 {count} 张挂单，按 F7 取单。</translation>
    </message>
    <message>
      <source>No basket is on hold.</source>
      <translation>没有挂单。</translation>
    </message>
    <message>
      <source>Finish, hold or void the current basket before recalling another.</source>
      <translation>请先结账、挂单或作废当前这一单，再取单。</translation>
    </message>
    <message>
      <source>{lines} line(s)</source>
      <translation>{lines} 项商品</translation>
    </message>
    <message>
      <source>Recall a basket</source>
      <translation>取回挂单</translation>
    </message>
    <message>
      <source>Held baskets (press 1-9 or Enter):</source>
      <translation>挂单列表（按 1-9 或回车选择）：</translation>
    </message>
    <message>
      <source>Basket recalled.</source>
      <translation>已取回挂单。</translation>
    </message>
    <message>
      <source>The basket is already empty.</source>
      <translation>购物车已经是空的。</translation>
    </message>
    <message>
      <source>Press F8 again to void this basket.</source>
      <translation>再按一次 F8 作废本单。</translation>
    </message>
    <message>
      <source>Basket voided.</source>
      <translation>本单已作废。</translation>
    </message>
    <message>
      <source>Scan the products first, then the coupon.</source>
      <translation>请先扫商品，再用优惠券。</translation>
    </message>
    <message>
      <source>Coupon applied: {value} off.</source>
      <translation>优惠券已使用：减 {value}。</translation>
    </message>
    <message>
      <source>Coupons removed.</source>
      <translation>已移除优惠券。</translation>
    </message>
    <message>
      <source>Only a manager can open the manager views: lock the till (F12), switch user and log in as the manager.</source>
      <translation>只有店长可以打开店长视图：请锁屏（F12）、切换用户，以店长身份登录。</translation>
    </message>
    <message>
      <source>Reprint sent to the printer.</source>
      <translation>已发送重印。</translation>
    </message>
    <message>
      <source>No receipt yet on this till.</source>
      <translation>本机还没有小票。</translation>
    </message>
  </context>
  <context>
    <name>CouponDialog</name>
    <message>
      <source>Coupons</source>
      <translation>优惠券</translation>
    </message>
    <message>
      <source>Scan or type the coupon code</source>
      <translation>扫描或输入优惠券码</translation>
    </message>
    <message>
      <source>{code}  {name}  -{value}</source>
      <translation>{code}  {name}  减{value}</translation>
    </message>
    <message>
      <source>(orders from {min})</source>
      <translation>（满 {min} 可用）</translation>
    </message>
    <message>
      <source>Apply (Enter)</source>
      <translation>使用（回车）</translation>
    </message>
    <message>
      <source>Remove all coupons</source>
      <translation>移除全部优惠券</translation>
    </message>
    <message>
      <source>Cancel (Esc)</source>
      <translation>取消（Esc）</translation>
    </message>
    <message>
      <source>The member's coupons (double-click to apply):</source>
      <translation>会员的优惠券（双击使用）：</translation>
    </message>
    <message>
      <source>Applied: {codes}</source>
      <translation>已使用：{codes}</translation>
    </message>
    <message>
      <source>No coupon applied.</source>
      <translation>未使用优惠券。</translation>
    </message>
    <message>
      <source>Scan or type the coupon code.</source>
      <translation>请扫描或输入优惠券码。</translation>
    </message>
    <message>
      <source>This coupon is already applied.</source>
      <translation>这张优惠券已经用上了。</translation>
    </message>
  </context>
  <context>
    <name>CustomerDisplay</name>
    <message>
      <source>Customer display ready</source>
      <translation>客显正常</translation>
    </message>
    <message>
      <source>Customer display settings unreadable</source>
      <translation>客显设置无法读取</translation>
    </message>
    <message>
      <source>pole display</source>
      <translation>客显屏</translation>
    </message>
    <message>
      <source>customer screen</source>
      <translation>顾客副屏</translation>
    </message>
    <message>
      <source>Customer display offline ({which}); sales go on</source>
      <translation>客显离线（{which}），不影响收银</translation>
    </message>
  </context>
  <context>
    <name>CustomerDisplayWindow</name>
    <message>
      <source>Customer display</source>
      <extracomment>How long the finished sale stays on the display before the idle screen (ms).</extracomment>
      <translation>顾客显示屏</translation>
    </message>
    <message>
      <source>Welcome</source>
      <translation>欢迎光临</translation>
    </message>
    <message>
      <source>Scan for your points mall</source>
      <translation>扫码进入积分商城</translation>
    </message>
    <message>
      <source>Today is member day: x{multiplier} points</source>
      <translation>今天是会员日：积分 {multiplier} 倍</translation>
    </message>
    <message>
      <source>Member day on the {day}th of every month: x{multiplier} points</source>
      <translation>每月 {day} 日会员日：积分 {multiplier} 倍</translation>
    </message>
    <message>
      <source>{weight} at {price}/kg</source>
      <translation>{weight} × {price}/kg</translation>
    </message>
    <message>
      <source>{count} line(s)</source>
      <translation>共 {count} 项</translation>
    </message>
    <message>
      <source>Total {amount}</source>
      <translation>合计 {amount}</translation>
    </message>
    <message>
      <source>Please pay</source>
      <translation>请付款</translation>
    </message>
    <message>
      <source>Thank you!</source>
      <translation>谢谢惠顾！</translation>
    </message>
    <message>
      <source>Amount due {amount}</source>
      <translation>应付 {amount}</translation>
    </message>
    <message>
      <source>Paid {amount}</source>
      <translation>实付 {amount}</translation>
    </message>
    <message>
      <source>Points used: {points} ({value})</source>
      <translation>积分抵扣：{points} 积分（{value}）</translation>
    </message>
    <message>
      <source>This sale earns {points} points</source>
      <translation>本单获得 {points} 积分</translation>
    </message>
    <message>
      <source>Balance after payment: {points} points</source>
      <translation>付款后积分余额 {points}</translation>
    </message>
    <message>
      <source>Points balance: {points}</source>
      <translation>积分余额 {points}</translation>
    </message>
    <message>
      <source>Change {amount}</source>
      <translation>找零 {amount}</translation>
    </message>
  </context>
  <context>
    <name>Errors</name>
    <message>
      <source>The {what} must carry a time zone.</source>
      <translation>{what} 必须带时区。</translation>
    </message>
    <message>
      <source>This is not a valid member code.</source>
      <translation>这不是有效的会员码。</translation>
    </message>
    <message>
      <source>The operation was refused.</source>
      <translation>操作被拒绝。</translation>
    </message>
    <message>
      <source>Rule set field '{field}': {problem}</source>
      <translation>规则字段“{field}”：{problem}</translation>
    </message>
    <message>
      <source>Not enough points: {points} needed, {available} available.</source>
      <translation>积分不足：需要 {points}，可用 {available}。</translation>
    </message>
    <message>
      <source>Enter a valid mobile phone number.</source>
      <translation>请输入有效的手机号码。</translation>
    </message>
    <message>
      <source>An adjustment moves a whole number of points, not zero.</source>
      <translation>调整的积分须为非零整数。</translation>
    </message>
    <message>
      <source>An adjustment is at most {max} points.</source>
      <translation>单次调整最多 {max} 积分。</translation>
    </message>
    <message>
      <source>Unknown member.</source>
      <translation>未知会员。</translation>
    </message>
    <message>
      <source>Unknown role {role}.</source>
      <translation>未知角色 {role}。</translation>
    </message>
    <message>
      <source>A PIN is 4 to 8 digits.</source>
      <translation>PIN 为 4 到 8 位数字。</translation>
    </message>
    <message>
      <source>A user needs a name.</source>
      <translation>用户需要姓名。</translation>
    </message>
    <message>
      <source>Too many wrong PINs: try again in {seconds} s.</source>
      <translation>PIN 错误次数过多：请 {seconds} 秒后再试。</translation>
    </message>
    <message>
      <source>Unknown user.</source>
      <translation>未知用户。</translation>
    </message>
    <message>
      <source>Wrong PIN. Try again in {seconds} s.</source>
      <translation>PIN 错误。请 {seconds} 秒后再试。</translation>
    </message>
    <message>
      <source>Wrong PIN.</source>
      <translation>PIN 错误。</translation>
    </message>
    <message>
      <source>Only a manager can approve this.</source>
      <translation>只有店长可以批准此操作。</translation>
    </message>
    <message>
      <source>Only a manager can do this: log in as a manager.</source>
      <translation>只有店长可以操作：请以店长身份登录。</translation>
    </message>
    <message>
      <source>Unknown coupon {code}.</source>
      <translation>未知优惠券 {code}。</translation>
    </message>
    <message>
      <source>Coupon {code} belongs to another member.</source>
      <translation>优惠券 {code} 属于其他会员。</translation>
    </message>
    <message>
      <source>Coupon {code} is not valid today.</source>
      <translation>优惠券 {code} 今天不可用。</translation>
    </message>
    <message>
      <source>Coupon {code} has already been used.</source>
      <translation>优惠券 {code} 已被使用。</translation>
    </message>
    <message>
      <source>The same coupon was given twice.</source>
      <translation>同一张优惠券使用了两次。</translation>
    </message>
    <message>
      <source>Unknown payment method {method}.</source>
      <translation>未知支付方式 {method}。</translation>
    </message>
    <message>
      <source>A payment amount must be above zero.</source>
      <translation>支付金额必须大于零。</translation>
    </message>
    <message>
      <source>The cash received is less than the amount.</source>
      <translation>实收现金少于应付金额。</translation>
    </message>
    <message>
      <source>Only cash gives change.</source>
      <translation>只有现金支付可以找零。</translation>
    </message>
    <message>
      <source>The payments add up to {paid} but {due} is due.</source>
      <translation>支付合计 {paid}，但应付 {due}。</translation>
    </message>
    <message>
      <source>A sale needs a client-generated id.</source>
      <translation>交易缺少客户端生成的编号。</translation>
    </message>
    <message>
      <source>This sale id was already used for another sale.</source>
      <translation>这个交易编号已被另一笔交易使用。</translation>
    </message>
    <message>
      <source>No member has this phone number.</source>
      <translation>没有会员使用这个手机号。</translation>
    </message>
    <message>
      <source>Enter the last 4 digits of the phone.</source>
      <translation>请输入手机号后 4 位。</translation>
    </message>
    <message>
      <source>A member-code key is a 32-byte Ed25519 public key.</source>
      <extracomment>How long the till waits for HQ to record a scanned code's use before going on alone. How long the replay cache keeps a used code (longer than any code lives), so that a sale made a while after the scan still names the code that identified its member. A sale names the code of a scan at most this long before it.</extracomment>
      <translation>会员码密钥须为 32 字节的 Ed25519 公钥。</translation>
    </message>
    <message>
      <source>This till has no member-code key from HQ yet: sync with HQ, then scan again.</source>
      <translation>本收银台还没有总部下发的会员码密钥：请先与总部同步，再扫码。</translation>
    </message>
    <message>
      <source>No member has this member code.</source>
      <translation>没有会员使用这个会员码。</translation>
    </message>
    <message>
      <source>HQ refuses this member code: {reason}</source>
      <translation>总部拒绝这个会员码：{reason}</translation>
    </message>
    <message>
      <source>This member code was already used: ask the member to refresh it in the app.</source>
      <translation>这个会员码已经用过了：请会员在 App 中刷新会员码。</translation>
    </message>
    <message>
      <source>This member code was already used at another till: ask the member to refresh it in the app.</source>
      <translation>这个会员码已在其他收银台用过：请会员在 App 中刷新会员码。</translation>
    </message>
    <message>
      <source>A mobile number starts with 1 and 2 more digits.</source>
      <translation>手机号前 3 位应以 1 开头。</translation>
    </message>
    <message>
      <source>This member id was already used for another member.</source>
      <translation>这个会员编号已用于另一位会员。</translation>
    </message>
    <message>
      <source>The name is too long (32 characters at most).</source>
      <translation>姓名太长（最多 32 个字符）。</translation>
    </message>
    <message>
      <source>The birthday cannot be in the future.</source>
      <translation>生日不能晚于今天。</translation>
    </message>
    <message>
      <source>This phone number is already registered.</source>
      <translation>这个手机号已经注册过会员。</translation>
    </message>
    <message>
      <source>Unknown referral code {code}.</source>
      <translation>未知推荐码 {code}。</translation>
    </message>
    <message>
      <source>No sale has receipt number {receipt}.</source>
      <extracomment>Setting keys (table ``settings``) and their defaults. Texts this module writes onto receipts (the fixed labels live in devices.receipt).</extracomment>
      <translation>找不到小票号为 {receipt} 的交易。</translation>
    </message>
    <message>
      <source>Give the reason for the refund.</source>
      <translation>请填写退货原因。</translation>
    </message>
    <message>
      <source>A manager cannot approve her own refund: ask another manager.</source>
      <translation>店长不能批准自己办理的退货：请另一位店长批准。</translation>
    </message>
    <message>
      <source>This refund was already recorded as {no}.</source>
      <translation>这笔退货已记录为 {no}。</translation>
    </message>
    <message>
      <source>A reason is required.</source>
      <translation>请填写原因。</translation>
    </message>
    <message>
      <source>Scan or type a product code.</source>
      <extracomment>The demo accounts created on an empty till: (name, role, PIN). The longest barcode or SKU the catalogue holds (``products.sku`` is 32 characters).</extracomment>
      <translation>请扫描或输入商品编码。</translation>
    </message>
    <message>
      <source>{length} characters is too long for a product code (at most {max}): scan it again or check what was typed.</source>
      <translation>输入了 {length} 个字符，商品编码最多 {max} 位：请重新扫描或检查输入。</translation>
    </message>
    <message>
      <source>No product has the code {code}.</source>
      <translation>找不到编码为 {code} 的商品。</translation>
    </message>
    <message>
      <source>A product needs a SKU and a name.</source>
      <translation>商品需要编码和名称。</translation>
    </message>
    <message>
      <source>Product {sku}: a price must be whole fen, not negative.</source>
      <translation>商品 {sku}：价格须为非负的整数分。</translation>
    </message>
    <message>
      <source>Something went wrong: {error}</source>
      <translation>出错了：{error}</translation>
    </message>
    <message>
      <source>At most {max} points can be used on this order: {reason}</source>
      <translation>本单最多可用 {max} 积分：{reason}</translation>
    </message>
    <message>
      <source>Choose at least one line to refund.</source>
      <translation>请至少选择一行商品退货。</translation>
    </message>
    <message>
      <source>Coupon {code} is malformed.</source>
      <translation>优惠券 {code} 格式有误。</translation>
    </message>
    <message>
      <source>Coupon {code} needs an order of at least {minimum}.</source>
      <translation>优惠券 {code} 需订单满 {minimum} 才能使用。</translation>
    </message>
    <message>
      <source>Line {line} is not part of this sale.</source>
      <translation>第 {line} 行不属于这笔交易。</translation>
    </message>
    <message>
      <source>Line {line}: the discount is larger than the line amount.</source>
      <translation>第 {line} 行：优惠大于该行金额。</translation>
    </message>
    <message>
      <source>Line {line}: the discount must be a whole number of fen (got {value}).</source>
      <translation>第 {line} 行：优惠须为整数分（输入的是 {value}）。</translation>
    </message>
    <message>
      <source>Line {line}: a weight and its price must be whole numbers.</source>
      <translation>第 {line} 行：重量和单价必须是整数。</translation>
    </message>
    <message>
      <source>Line {line}: a weighed line has one item of more than 0 g.</source>
      <translation>第 {line} 行：称重商品只能有一件，且重量大于 0 克。</translation>
    </message>
    <message>
      <source>Line {line}: the member price must be whole fen, not negative.</source>
      <translation>第 {line} 行：会员价必须是整数分，且不能为负数。</translation>
    </message>
    <message>
      <source>Line {line}: the discount must not be negative.</source>
      <translation>第 {line} 行：优惠不能为负数。</translation>
    </message>
    <message>
      <source>Line {line}: the price must be a whole number of fen (got {value}).</source>
      <translation>第 {line} 行：价格须为整数分（输入的是 {value}）。</translation>
    </message>
    <message>
      <source>Line {line}: the price must not be negative.</source>
      <translation>第 {line} 行：价格不能为负数。</translation>
    </message>
    <message>
      <source>Line {line}: the quantity must be a whole number above zero (got {qty}).</source>
      <translation>第 {line} 行：数量须为大于零的整数（输入的是 {qty}）。</translation>
    </message>
    <message>
      <source>Only {left} of {qty} units of this line can still be refunded.</source>
      <translation>这一行共 {qty} 件，只剩 {left} 件可退。</translation>
    </message>
    <message>
      <source>Points are used in multiples of {unit}; {points} is not one.</source>
      <translation>积分须按 {unit} 的整数倍使用，{points} 不符合。</translation>
    </message>
    <message>
      <source>Points can only be used by an identified member.</source>
      <translation>只有已识别的会员才能使用积分。</translation>
    </message>
    <message>
      <source>The basket is empty.</source>
      <translation>购物车是空的。</translation>
    </message>
    <message>
      <source>The member already spent {points} of the points this sale earned and the refund cannot cover their value.</source>
      <translation>会员已用掉本单所得积分中的 {points} 积分，退款金额不足以抵扣。</translation>
    </message>
    <message>
      <source>The points to use must be a whole number, zero or more.</source>
      <translation>使用的积分须为零或正整数。</translation>
    </message>
    <message>
      <source>The quantity to refund must be a whole number above zero (got {qty}).</source>
      <translation>退货数量须为大于零的整数（输入的是 {qty}）。</translation>
    </message>
    <message>
      <source>This refund would take the balance to {after}, below the allowed {floor}.</source>
      <translation>退货后积分余额将为 {after}，低于允许的 {floor}。</translation>
    </message>
    <message>
      <source>This sale has points but no member.</source>
      <translation>这笔交易有积分但没有会员。</translation>
    </message>
    <message>
      <source>Unknown points range {range}.</source>
      <translation>未知的积分区间 {range}。</translation>
    </message>
    <message>
      <source>The quantity must be a whole number above zero.</source>
      <translation>数量须为大于零的整数。</translation>
    </message>
    <message>
      <source>{item} cannot be redeemed at the counter.</source>
      <translation>{item}不能在门店兑换。</translation>
    </message>
    <message>
      <source>{item} is not available in the mall now.</source>
      <translation>{item}现在不在商城上架期内。</translation>
    </message>
    <message>
      <source>The lottery {item} has been drawn: no more entries.</source>
      <translation>抽奖「{item}」已开奖，不能再参与。</translation>
    </message>
    <message>
      <source>{item} is for {tier} members and above.</source>
      <translation>{item}仅限{tier}及以上会员兑换。</translation>
    </message>
    <message>
      <source>Only {stock} of {item} left in stock.</source>
      <translation>{item}库存仅剩 {stock} 件。</translation>
    </message>
    <message>
      <source>{item} is limited to {limit} per member; this member already has {already}.</source>
      <translation>{item}每位会员限兑 {limit} 件，该会员已兑换 {already} 件。</translation>
    </message>
    <message>
      <source>Not enough points: {points} needed, the member has {balance}.</source>
      <translation>积分不足：需要 {points} 积分，会员现有 {balance} 积分。</translation>
    </message>
    <message>
      <source>HQ cannot be reached: at most {limit} points can be used now.</source>
      <translation>无法连接总部：目前最多可用 {limit} 积分。</translation>
    </message>
    <message>
      <source>This dynamic member code is damaged: ask the member to show it again.</source>
      <extracomment>Key id of the embedded demo key pair (HQ's own keys use 1-65534). The demo key's private half: derived from a published phrase, so anyone can mint demo codes. Trusted only by a demo till without HQ and by the SQLite demo HQ.</extracomment>
      <translation>动态会员码无法识别：请会员重新出示。</translation>
    </message>
    <message>
      <source>This member code has a format version ({version}) the till does not know.</source>
      <translation>这个会员码的格式版本（{version}）收银台不认识。</translation>
    </message>
    <message>
      <source>This member code was signed with key {key_id}, which this till does not have: HQ's keys need updating.</source>
      <translation>这个会员码由密钥 {key_id} 签名，本收银台没有该密钥：需要更新总部密钥。</translation>
    </message>
    <message>
      <source>This member code is forged or damaged: its signature does not match.</source>
      <translation>会员码是伪造的或已损坏：签名不符。</translation>
    </message>
    <message>
      <source>This member code claims a lifetime longer than {minutes} minutes.</source>
      <translation>这个会员码的有效期超过了 {minutes} 分钟的上限。</translation>
    </message>
    <message>
      <source>This member code is not valid yet: the till's clock or the phone's is wrong.</source>
      <translation>这个会员码尚未生效：收银台或手机的时间不对。</translation>
    </message>
    <message>
      <source>This member code has expired: ask the member to refresh it in the app.</source>
      <translation>会员码已过期：请会员在 App 中刷新会员码。</translation>
    </message>
    <message>
      <source>This member code was signed with key {key_id}, which HQ has revoked: ask the member to refresh it in the app.</source>
      <translation>这个会员码由总部已吊销的密钥 {key_id} 签发：请会员在 App 中刷新会员码。</translation>
    </message>
    <message>
      <source>This member code was issued outside the validity of HQ's key {key_id}.</source>
      <translation>这个会员码的签发时间不在总部密钥 {key_id} 的有效期内。</translation>
    </message>
    <message>
      <source>Mall item {item}: a field is out of range.</source>
      <translation>商城商品 {item}：有字段超出范围。</translation>
    </message>
    <message>
      <source>Unknown theme {theme}.</source>
      <translation>未知的主题 {theme}。</translation>
    </message>
    <message>
      <source>A redemption needs a client-generated id.</source>
      <translation>兑换需要客户端生成的编号。</translation>
    </message>
    <message>
      <source>The price of {item} is now {points} points: show it to the member and redeem again.</source>
      <translation>{item} 的积分价已变为 {points}：请向会员确认新价格后重新兑换。</translation>
    </message>
    <message>
      <source>This redemption id was already used for another redemption.</source>
      <translation>这个兑换编号已用于另一次兑换。</translation>
    </message>
    <message>
      <source>No mall item has the id {item}.</source>
      <translation>没有编号为 {item} 的商城商品。</translation>
    </message>
    <message>
      <source>{item} is points + cash: choose how the member pays {cash}.</source>
      <translation>{item}为积分+现金：请选择会员支付 {cash} 的方式。</translation>
    </message>
    <message>
      <source>No lottery has the id {item}.</source>
      <translation>没有编号为 {item} 的抽奖。</translation>
    </message>
    <message>
      <source>The lottery {item} has already been drawn.</source>
      <translation>抽奖「{item}」已经开过奖了。</translation>
    </message>
    <message>
      <source>The lottery {item} has no entries yet.</source>
      <translation>抽奖「{item}」还没有人参与。</translation>
    </message>
    <message>
      <source>The printer address is not valid: {problem}</source>
      <extracomment>The one receipt printer of a till (``printer_settings.name``). Folder (next to the database file) of the PNG previews printed without a printer.</extracomment>
      <translation>打印机地址无效：{problem}</translation>
    </message>
    <message>
      <source>Unknown receipt language {language}.</source>
      <translation>未知的小票语言 {language}。</translation>
    </message>
    <message>
      <source>The printer settings are not valid: {problem}</source>
      <translation>打印机设置无效：{problem}</translation>
    </message>
    <message>
      <source>No sale to reprint yet.</source>
      <translation>还没有可重印的小票。</translation>
    </message>
    <message>
      <source>No print job {job}.</source>
      <translation>没有打印任务 {job}。</translation>
    </message>
    <message>
      <source>Choose a share from 1 to 100%.</source>
      <translation>请选择 1% 到 100% 之间的比例。</translation>
    </message>
    <message>
      <source>The member's ledger does not add up: run pos-app check.</source>
      <translation>会员的积分流水对不上：请运行 pos-app check。</translation>
    </message>
    <message>
      <source>Cash amounts are whole fen, zero or more.</source>
      <translation>现金金额须为不小于零的整分。</translation>
    </message>
    <message>
      <source>{code}: no scale label layout is set up for prefix {prefix}.</source>
      <translation>{code}：前缀 {prefix} 没有设置称重码格式。</translation>
    </message>
    <message>
      <source>Scale label {code}: the check digit is wrong (should be {expected}). Scan it again or print a new label.</source>
      <translation>称重码 {code} 校验位错误（应为 {expected}）。请重新扫描或重新打印秤签。</translation>
    </message>
    <message>
      <source>Scale label {code}: a weight of {weight} g is not possible (from 1 g to {max_weight} g). Weigh the item again.</source>
      <translation>称重码 {code}：重量 {weight} 克不合理（应在 1 至 {max_weight} 克之间）。请重新称重。</translation>
    </message>
    <message>
      <source>Scale label {code}: a price of {price} is not possible.</source>
      <translation>称重码 {code}：金额 {price} 不合理。</translation>
    </message>
    <message>
      <source>Customer display setting {field}: must be {expected}.</source>
      <extracomment>How often a failing display is tried again with the latest view (seconds).</extracomment>
      <translation>客显设置 {field}：应为 {expected}。</translation>
    </message>
    <message>
      <source>No product has the item code {item} of scale label {code}.</source>
      <translation>没有商品的货号是 {item}（称重码 {code}）。</translation>
    </message>
  </context>
  <context>
    <name>FrontPage</name>
    <message>
      <source>Hot campaigns</source>
      <translation>热门活动</translation>
    </message>
    <message>
      <source>Value picks: most points saved</source>
      <translation>超值兑换：最省积分</translation>
    </message>
    <message>
      <source>New items</source>
      <translation>新品上架</translation>
    </message>
    <message>
      <source>Upcoming lottery</source>
      <translation>抽奖活动</translation>
    </message>
    <message>
      <source>Member-day zone</source>
      <translation>会员日专区</translation>
    </message>
    <message>
      <source>Everyday</source>
      <translation>入门</translation>
    </message>
    <message>
      <source>Popular</source>
      <translation>人气</translation>
    </message>
    <message>
      <source>Premium</source>
      <translation>尊享</translation>
    </message>
  </context>
  <context>
    <name>FrontPageView</name>
    <message>
      <source>Loading the front page...</source>
      <translation>正在载入商城首页…</translation>
    </message>
    <message>
      <source>Points pyramid: items on offer</source>
      <translation>积分金字塔：在售礼品数</translation>
    </message>
    <message>
      <source>Arrows: move · Enter: choose the item · F11: all items and search · Esc: close</source>
      <translation>方向键：移动 · 回车：选择礼品 · F11：全部礼品与搜索 · Esc：关闭</translation>
    </message>
    <message>
      <source>Nothing on offer in the mall right now.</source>
      <translation>商城暂时没有可兑换的礼品。</translation>
    </message>
    <message>
      <source>{points} pts</source>
      <translation>{points} 积分</translation>
    </message>
    <message>
      <source>save {points}</source>
      <translation>省 {points}</translation>
    </message>
    <message>
      <source>HQ pick</source>
      <translation>总部推荐</translation>
    </message>
    <message>
      <source>Can redeem</source>
      <translation>可兑换</translation>
    </message>
    <message>
      <source>{points} short</source>
      <translation>还差 {points}</translation>
    </message>
  </context>
  <context>
    <name>HelpDialog</name>
    <message>
      <source>Help</source>
      <translation>帮助</translation>
    </message>
    <message>
      <source>Close</source>
      <translation>关闭</translation>
    </message>
  </context>
  <context>
    <name>Ledger</name>
    <message>
      <source>Earned</source>
      <translation>消费积分</translation>
    </message>
    <message>
      <source>Spent</source>
      <translation>积分使用</translation>
    </message>
    <message>
      <source>Expired</source>
      <translation>积分过期</translation>
    </message>
    <message>
      <source>Refund: taken back</source>
      <translation>退货扣回</translation>
    </message>
    <message>
      <source>Refund: given back</source>
      <translation>退货退还</translation>
    </message>
    <message>
      <source>Bonus</source>
      <translation>奖励积分</translation>
    </message>
    <message>
      <source>Adjustment</source>
      <translation>手工调整</translation>
    </message>
    <message>
      <source>Merged in (duplicate member)</source>
      <translation>合并转入（重复会员）</translation>
    </message>
    <message>
      <source>Merged out (duplicate member)</source>
      <translation>合并转出（重复会员）</translation>
    </message>
    <message>
      <source>Opening balance (from HQ)</source>
      <translation>期初余额（总部）</translation>
    </message>
  </context>
  <context>
    <name>LockScreen</name>
    <message>
      <source>Till locked</source>
      <translation>收银台已锁定</translation>
    </message>
    <message>
      <source>PIN</source>
      <translation>PIN 密码</translation>
    </message>
    <message>
      <source>Unlock (Enter)</source>
      <translation>解锁（回车）</translation>
    </message>
    <message>
      <source>Log out / switch user</source>
      <translation>退出 / 切换用户</translation>
    </message>
    <message>
      <source>Locked by {name}. Type the PIN to unlock.</source>
      <translation>{name} 已锁屏。输入 PIN 解锁。</translation>
    </message>
    <message>
      <source>Type your PIN.</source>
      <translation>请输入 PIN。</translation>
    </message>
  </context>
  <context>
    <name>LoginScreen</name>
    <message>
      <source>PIN</source>
      <extracomment>Gives the till context on the worker thread (it may be opened there first).</extracomment>
      <translation>PIN 密码</translation>
    </message>
    <message>
      <source>Log in (Enter)</source>
      <translation>登录（回车）</translation>
    </message>
    <message>
      <source>Who is at the till?</source>
      <translation>请选择收银员：</translation>
    </message>
    <message>
      <source>Points Till</source>
      <translation>会员积分收银台</translation>
    </message>
    <message>
      <source>Manager</source>
      <translation>店长</translation>
    </message>
    <message>
      <source>Cashier</source>
      <translation>收银员</translation>
    </message>
    <message>
      <source>Pick your name first.</source>
      <translation>请先选择您的名字。</translation>
    </message>
    <message>
      <source>Type your PIN.</source>
      <translation>请输入 PIN。</translation>
    </message>
  </context>
  <context>
    <name>MainWindow</name>
    <message>
      <source>Points Till — {store}</source>
      <translation>会员积分收银台 — {store}</translation>
    </message>
    <message>
      <source>Printer: preview mode</source>
      <translation>打印机：预览模式</translation>
    </message>
    <message>
      <source>Not logged in</source>
      <translation>未登录</translation>
    </message>
    <message>
      <source>Cashier: {name}</source>
      <translation>收银员：{name}</translation>
    </message>
    <message>
      <source>HQ online, {count} to upload</source>
      <translation>总部在线，{count} 笔待上传</translation>
    </message>
    <message>
      <source>Offline, {count} to upload</source>
      <translation>离线，{count} 笔待上传</translation>
    </message>
    <message>
      <source>Sync status unknown</source>
      <translation>同步状态未知</translation>
    </message>
    <message>
      <source>HQ refused an event, {count} to upload</source>
      <translation>总部拒收一条记录，{count} 笔待上传</translation>
    </message>
    <message>
      <source>HQ busy, trying again soon, {count} to upload</source>
      <translation>总部繁忙，稍后重试，{count} 笔待上传</translation>
    </message>
    <message>
      <source>Last sync: {time}</source>
      <translation>上次同步：{time}</translation>
    </message>
    <message>
      <source>Not synced with HQ yet</source>
      <translation>尚未与总部同步</translation>
    </message>
    <message>
      <source>Loading the region's members from HQ: {done} of {total}</source>
      <translation>正在从总部载入本区会员：{done} / {total}</translation>
    </message>
    <message>
      <source>Receiving from HQ: {count} changes</source>
      <translation>正在从总部接收：{count} 条变更</translation>
    </message>
    <message>
      <source>Last error: {error}</source>
      <translation>最近错误：{error}</translation>
    </message>
    <message>
      <source>Printer ready</source>
      <translation>打印机就绪</translation>
    </message>
    <message>
      <source>Printer: paper low</source>
      <translation>打印机：纸将用完</translation>
    </message>
    <message>
      <source>Printer offline</source>
      <translation>打印机离线</translation>
    </message>
    <message>
      <source>Printer: out of paper</source>
      <translation>打印机：缺纸</translation>
    </message>
    <message>
      <source>Printer: cover open</source>
      <translation>打印机：纸仓盖打开</translation>
    </message>
    <message>
      <source>Printer error</source>
      <translation>打印机故障</translation>
    </message>
    <message>
      <source>, {count} receipts waiting</source>
      <translation>，{count} 张小票待打印</translation>
    </message>
    <message>
      <source>, {count} failed</source>
      <translation>，{count} 张打印失败</translation>
    </message>
  </context>
  <context>
    <name>Mall</name>
    <message>
      <source>Coupons</source>
      <translation>优惠券</translation>
    </message>
    <message>
      <source>Home</source>
      <translation>家居</translation>
    </message>
    <message>
      <source>Electronics</source>
      <translation>数码</translation>
    </message>
    <message>
      <source>Travel</source>
      <translation>旅行</translation>
    </message>
    <message>
      <source>Lottery</source>
      <translation>抽奖</translation>
    </message>
    <message>
      <source>Food</source>
      <translation>食品</translation>
    </message>
    <message>
      <source>Drinks</source>
      <translation>饮料</translation>
    </message>
    <message>
      <source>Snacks</source>
      <translation>零食</translation>
    </message>
    <message>
      <source>Personal care</source>
      <translation>个护</translation>
    </message>
    <message>
      <source>Household</source>
      <translation>日用</translation>
    </message>
  </context>
  <context>
    <name>MallDialog</name>
    <message>
      <source>Points mall</source>
      <translation>积分商城</translation>
    </message>
    <message>
      <source>Search by name, brand or keyword</source>
      <translation>按名称、品牌或关键词搜索</translation>
    </message>
    <message>
      <source>All categories</source>
      <translation>全部分类</translation>
    </message>
    <message>
      <source>All points</source>
      <translation>全部积分段</translation>
    </message>
    <message>
      <source>Up to 1,000 points</source>
      <translation>0-1000 积分专区</translation>
    </message>
    <message>
      <source>1,000-5,000 points</source>
      <translation>1000-5000 积分</translation>
    </message>
    <message>
      <source>Over 5,000 points</source>
      <translation>5000 积分以上</translation>
    </message>
    <message>
      <source>All themes</source>
      <translation>全部主题</translation>
    </message>
    <message>
      <source>Limited time</source>
      <translation>限时</translation>
    </message>
    <message>
      <source>New</source>
      <translation>新品</translation>
    </message>
    <message>
      <source>Item</source>
      <translation>商品</translation>
    </message>
    <message>
      <source>Category</source>
      <translation>分类</translation>
    </message>
    <message>
      <source>Points</source>
      <translation>积分</translation>
    </message>
    <message>
      <source>+ Cash</source>
      <translation>+现金</translation>
    </message>
    <message>
      <source>Stock</source>
      <translation>库存</translation>
    </message>
    <message>
      <source>Limits</source>
      <translation>兑换限制</translation>
    </message>
    <message>
      <source>For this member</source>
      <translation>该会员</translation>
    </message>
    <message>
      <source>Qty </source>
      <translation>数量 </translation>
    </message>
    <message>
      <source>Cash</source>
      <translation>现金</translation>
    </message>
    <message>
      <source>Bank card</source>
      <translation>银行卡</translation>
    </message>
    <message>
      <source>WeChat Pay</source>
      <translation>微信支付</translation>
    </message>
    <message>
      <source>Alipay</source>
      <translation>支付宝</translation>
    </message>
    <message>
      <source>Cash part paid by</source>
      <translation>现金部分支付方式</translation>
    </message>
    <message>
      <source>Redeem for the member</source>
      <translation>为会员兑换</translation>
    </message>
    <message>
      <source>Close (Esc)</source>
      <translation>关闭（Esc）</translation>
    </message>
    <message>
      <source>{count} items</source>
      <translation>共 {count} 件</translation>
    </message>
    <message>
      <source>Limited -{percent}%</source>
      <translation>限时 -{percent}%</translation>
    </message>
    <message>
      <source>{now} (was {was})</source>
      <translation>{now}（原 {was}）</translation>
    </message>
    <message>
      <source>coupon</source>
      <translation>券</translation>
    </message>
    <message>
      <source>{count} entered</source>
      <translation>已参与 {count} 人次</translation>
    </message>
    <message>
      <source>{tier}+</source>
      <translation>{tier}及以上</translation>
    </message>
    <message>
      <source>max {n} each</source>
      <translation>每人限 {n}</translation>
    </message>
    <message>
      <source>Can redeem</source>
      <translation>可兑换</translation>
    </message>
    <message>
      <source>{points} more points needed</source>
      <translation>还差 {points} 积分</translation>
    </message>
    <message>
      <source>{tier} and above only</source>
      <translation>仅限{tier}及以上</translation>
    </message>
    <message>
      <source>Drawn</source>
      <translation>已开奖</translation>
    </message>
    <message>
      <source>Choose an item.</source>
      <translation>请选择商品。</translation>
    </message>
    <message>
      <source>{item}: {points} points</source>
      <translation>{item}：{points} 积分</translation>
    </message>
    <message>
      <source>+ {cash} cash</source>
      <translation>+ 现金 {cash}</translation>
    </message>
    <message>
      <source>(limited-time {percent}% off, regular {was} points)</source>
      <translation>（限时 {percent}% 折扣，原价 {was} 积分）</translation>
    </message>
    <message>
      <source>— a coupon for the member's next purchase.</source>
      <translation>—— 优惠券，会员下次购物可用。</translation>
    </message>
    <message>
      <source>— one lottery entry per unit; the draw is recorded.</source>
      <translation>—— 每件一次抽奖机会，开奖全程记录。</translation>
    </message>
    <message>
      <source>Identify the member on the checkout screen to redeem.</source>
      <translation>请先在收银界面识别会员，再兑换。</translation>
    </message>
    <message>
      <source>Identify the member first: scan the member code or type the phone.</source>
      <translation>请先识别会员：扫会员码或输入手机号。</translation>
    </message>
    <message>
      <source>Redeemed {item} x{qty} for {points} points.</source>
      <translation>已兑换 {item} ×{qty}，使用 {points} 积分。</translation>
    </message>
    <message>
      <source>Take {cash} in cash part.</source>
      <translation>请收取现金部分 {cash}。</translation>
    </message>
    <message>
      <source>Coupon {code} issued, valid until {date}.</source>
      <translation>已发放优惠券 {code}，有效期至 {date}。</translation>
    </message>
    <message>
      <source>{count} lottery entries recorded.</source>
      <translation>已记录 {count} 次抽奖机会。</translation>
    </message>
    <message>
      <source>Balance now {points} points.</source>
      <translation>当前余额 {points} 积分。</translation>
    </message>
    <message>
      <source>No member: browse only. Identify the member to redeem.</source>
      <translation>未识别会员：仅可浏览。识别会员后可兑换。</translation>
    </message>
    <message>
      <source>{name} · {phone} · {tier} · {points} points</source>
      <translation>{name} · {phone} · {tier} · {points} 积分</translation>
    </message>
    <message>
      <source>(no name)</source>
      <translation>（未填姓名）</translation>
    </message>
  </context>
  <context>
    <name>ManagerDialog</name>
    <message>
      <source>Manager — {name}</source>
      <translation>店长视图 — {name}</translation>
    </message>
    <message>
      <source>Close (Esc)</source>
      <translation>关闭（Esc）</translation>
    </message>
    <message>
      <source>Tiers</source>
      <translation>会员等级</translation>
    </message>
    <message>
      <source>Expiring points</source>
      <translation>即将过期积分</translation>
    </message>
    <message>
      <source>Member</source>
      <translation>会员</translation>
    </message>
    <message>
      <source>Day report</source>
      <translation>日报</translation>
    </message>
    <message>
      <source>Shift close</source>
      <translation>交班</translation>
    </message>
    <message>
      <source>Lottery</source>
      <translation>抽奖</translation>
    </message>
    <message>
      <source>Loading…</source>
      <translation>正在加载…</translation>
    </message>
    <message>
      <source>Tier</source>
      <translation>等级</translation>
    </message>
    <message>
      <source>Members</source>
      <translation>会员数</translation>
    </message>
    <message>
      <source>Points held</source>
      <translation>持有积分</translation>
    </message>
    <message>
      <source>Phone</source>
      <translation>手机号</translation>
    </message>
    <message>
      <source>Name</source>
      <translation>姓名</translation>
    </message>
    <message>
      <source>Next tier</source>
      <translation>下一等级</translation>
    </message>
    <message>
      <source>Spend to go</source>
      <translation>还需消费</translation>
    </message>
    <message>
      <source>Points to go</source>
      <translation>还需积分</translation>
    </message>
    <message>
      <source>Reached</source>
      <translation>已达成</translation>
    </message>
    <message>
      <source>Refresh</source>
      <translation>刷新</translation>
    </message>
    <message>
      <source>Members by tier</source>
      <translation>各等级会员数</translation>
    </message>
    <message>
      <source>Close to the next tier (within 20%)</source>
      <translation>接近升级的会员（差距 20% 以内）</translation>
    </message>
    <message>
      <source>Close to the next tier (within 20%), nearest first: {count}</source>
      <translation>接近升级（差距 20% 以内，最接近的在前）：{count} 人</translation>
    </message>
    <message>
      <source>Points expiring</source>
      <translation>即将过期</translation>
    </message>
    <message>
      <source>First expiry</source>
      <translation>最早到期</translation>
    </message>
    <message>
      <source>Balance</source>
      <translation>积分余额</translation>
    </message>
    <message>
      <source>{members} members have {points} points expiring by {date} (showing {shown}).</source>
      <translation>{members} 位会员共有 {points} 积分将于 {date} 前过期（显示 {shown} 位）。</translation>
    </message>
    <message>
      <source>Phone, last 4 digits or member code, then Enter</source>
      <translation>输入手机号、尾号 4 位或会员码，回车</translation>
    </message>
    <message>
      <source>Time</source>
      <translation>时间</translation>
    </message>
    <message>
      <source>Entry</source>
      <translation>类型</translation>
    </message>
    <message>
      <source>Points</source>
      <translation>积分</translation>
    </message>
    <message>
      <source>Balance after</source>
      <translation>变动后余额</translation>
    </message>
    <message>
      <source>Receipt</source>
      <translation>小票号</translation>
    </message>
    <message>
      <source>Reason</source>
      <translation>原因</translation>
    </message>
    <message>
      <source>By</source>
      <translation>操作人</translation>
    </message>
    <message>
      <source>No member found.</source>
      <translation>没有找到会员。</translation>
    </message>
    <message>
      <source>{points} points expire by {date}.</source>
      <translation>{points} 积分将于 {date} 前过期。</translation>
    </message>
    <message>
      <source>No points expire soon.</source>
      <translation>近期没有积分过期。</translation>
    </message>
    <message>
      <source>{name} · {phone} · {code} · {tier} · {points} points · 12 months: {spend} spent, {earned} points earned. {expiring}</source>
      <translation>{name} · {phone} · {code} · {tier} · {points} 积分 · 近 12 个月：消费 {spend}，获得 {earned} 积分。{expiring}</translation>
    </message>
    <message>
      <source>(no name)</source>
      <translation>（未填姓名）</translation>
    </message>
    <message>
      <source>Mall: {item}</source>
      <translation>积分商城：{item}</translation>
    </message>
    <message>
      <source>Show</source>
      <translation>查询</translation>
    </message>
    <message>
      <source>Export CSV…</source>
      <translation>导出 CSV…</translation>
    </message>
    <message>
      <source>Sales</source>
      <translation>销售笔数</translation>
    </message>
    <message>
      <source>Sales amount</source>
      <translation>销售金额</translation>
    </message>
    <message>
      <source>Money taken</source>
      <translation>实收金额</translation>
    </message>
    <message>
      <source>Refunds</source>
      <translation>退货笔数</translation>
    </message>
    <message>
      <source>Cash refunded</source>
      <translation>退款金额</translation>
    </message>
    <message>
      <source>Mall redemptions</source>
      <translation>商城兑换</translation>
    </message>
    <message>
      <source>Points issued</source>
      <translation>发放积分</translation>
    </message>
    <message>
      <source>Points spent</source>
      <translation>使用积分</translation>
    </message>
    <message>
      <source>Points expired</source>
      <translation>过期积分</translation>
    </message>
    <message>
      <source>Points outstanding</source>
      <translation>未使用积分</translation>
    </message>
    <message>
      <source>Points liability</source>
      <translation>积分负债</translation>
    </message>
    <message>
      <source>Cashier</source>
      <translation>收银员</translation>
    </message>
    <message>
      <source>Amount</source>
      <translation>金额</translation>
    </message>
    <message>
      <source>Mall</source>
      <translation>商城兑换</translation>
    </message>
    <message>
      <source>Day</source>
      <translation>日期</translation>
    </message>
    <message>
      <source>Per cashier</source>
      <translation>按收银员</translation>
    </message>
    <message>
      <source>{count} ({points} pts)</source>
      <translation>{count} 笔（{points} 积分）</translation>
    </message>
    <message>
      <source>Export the day report</source>
      <translation>导出日报</translation>
    </message>
    <message>
      <source>CSV files (*.csv)</source>
      <translation>CSV 文件 (*.csv)</translation>
    </message>
    <message>
      <source>Saved to {path}</source>
      <translation>已保存到 {path}</translation>
    </message>
    <message>
      <source>Cash counted in the drawer, e.g. 1288.50</source>
      <translation>钱箱清点金额，如 1288.50</translation>
    </message>
    <message>
      <source>Optional note</source>
      <translation>备注（可选）</translation>
    </message>
    <message>
      <source>Close the shift</source>
      <translation>确认交班</translation>
    </message>
    <message>
      <source>Opening float</source>
      <translation>备用金</translation>
    </message>
    <message>
      <source>Expected in the drawer</source>
      <translation>钱箱应有</translation>
    </message>
    <message>
      <source>Counted</source>
      <translation>实点</translation>
    </message>
    <message>
      <source>Note</source>
      <translation>备注</translation>
    </message>
    <message>
      <source>Since {start}: {sales} sales, cash taken {cash}, cash refunded {refunds}, mall cash {mall}.</source>
      <translation>自 {start} 起：{sales} 笔销售，收现金 {cash}，退现金 {refunds}，商城现金 {mall}。</translation>
    </message>
    <message>
      <source>Type the opening float and the cash counted, e.g. 200 and 1288.50.</source>
      <translation>请输入备用金和实点现金，如 200 和 1288.50。</translation>
    </message>
    <message>
      <source>Shift closed: expected {expected}, counted {counted}. The cash agrees.</source>
      <translation>已交班：应有 {expected}，实点 {counted}，账实相符。</translation>
    </message>
    <message>
      <source>Shift closed: expected {expected}, counted {counted}: {diff} over.</source>
      <translation>已交班：应有 {expected}，实点 {counted}，长款 {diff}。</translation>
    </message>
    <message>
      <source>Shift closed: expected {expected}, counted {counted}: {diff} short.</source>
      <translation>已交班：应有 {expected}，实点 {counted}，短款 {diff}。</translation>
    </message>
    <message>
      <source>Entries</source>
      <translation>参与人次</translation>
    </message>
    <message>
      <source>Winners</source>
      <translation>中奖名额</translation>
    </message>
    <message>
      <source>Draw</source>
      <translation>开奖</translation>
    </message>
    <message>
      <source>Draw the selected lottery</source>
      <translation>为选中的抽奖开奖</translation>
    </message>
    <message>
      <source>The draw uses a fresh random seed, recorded with the list of entries, so anyone can repeat it and get the same winners.</source>
      <translation>开奖使用新的随机种子，并与参与名单一起记录，任何人都可以复现开奖、得到相同的中奖结果。</translation>
    </message>
    <message>
      <source>not drawn</source>
      <translation>未开奖</translation>
    </message>
    <message>
      <source>drawn {date}: {winners}</source>
      <translation>{date} 已开奖：{winners}</translation>
    </message>
    <message>
      <source>Choose a lottery first.</source>
      <translation>请先选择一个抽奖。</translation>
    </message>
    <message>
      <source>{item}: {winners} won (seed {seed}…, {entries} entries).</source>
      <translation>{item}：{winners} 中奖（种子 {seed}…，{entries} 人次参与）。</translation>
    </message>
  </context>
  <context>
    <name>MemberPanel</name>
    <message>
      <source>Member</source>
      <translation>会员</translation>
    </message>
    <message>
      <source>Remove</source>
      <translation>移除</translation>
    </message>
    <message>
      <source>No member yet. Scan the member code, or type the phone number or its last 4 digits, then Enter.</source>
      <translation>尚未识别会员。请扫会员码，或输入手机号 / 手机尾号 4 位后回车。</translation>
    </message>
    <message>
      <source>(no name)</source>
      <translation>（未填姓名）</translation>
    </message>
    <message>
      <source>{points} points</source>
      <translation>{points} 积分</translation>
    </message>
    <message>
      <source>Member not on this till yet</source>
      <translation>本机暂无此会员资料</translation>
    </message>
    <message>
      <source>Balance unknown: HQ is not reachable</source>
      <translation>余额未知：无法连接总部</translation>
    </message>
    <message>
      <source>This sale earns points as a regular member's; HQ adds them to the member's balance. No points can be spent until HQ is back.</source>
      <translation>本单按普通会员积分，由总部计入会员余额；总部恢复连接前不可使用积分。</translation>
    </message>
    <message>
      <source>{points} points expire by {date}</source>
      <translation>{points} 积分将于 {date} 前过期</translation>
    </message>
    <message>
      <source>Member code {code}</source>
      <translation>会员码 {code}</translation>
    </message>
    <message>
      <source>Member day</source>
      <translation>会员日</translation>
    </message>
    <message>
      <source>Birthday</source>
      <translation>生日周</translation>
    </message>
    <message>
      <source>Coupons and prizes (Ctrl+Q): {names}</source>
      <translation>优惠券与奖品（Ctrl+Q）：{names}</translation>
    </message>
    <message>
      <source>Points mall (F11):</source>
      <translation>积分商城（F11）：</translation>
    </message>
  </context>
  <context>
    <name>PaymentDialog</name>
    <message>
      <source>Payment</source>
      <translation>收款</translation>
    </message>
    <message>
      <source>Cash</source>
      <translation>现金</translation>
    </message>
    <message>
      <source>Bank card</source>
      <translation>银行卡</translation>
    </message>
    <message>
      <source>WeChat Pay</source>
      <translation>微信支付</translation>
    </message>
    <message>
      <source>Alipay</source>
      <translation>支付宝</translation>
    </message>
    <message>
      <source>Received</source>
      <translation>实收</translation>
    </message>
    <message>
      <source>Complete sale (Enter)</source>
      <translation>完成收款（回车）</translation>
    </message>
    <message>
      <source>Cancel (Esc)</source>
      <translation>取消（Esc）</translation>
    </message>
    <message>
      <source>To pay</source>
      <translation>应付</translation>
    </message>
    <message>
      <source>Method</source>
      <translation>支付方式</translation>
    </message>
    <message>
      <source>Change</source>
      <translation>找零</translation>
    </message>
    <message>
      <source>Type the cash received, e.g. 100 or 88.50.</source>
      <translation>请输入实收现金，例如 100 或 88.50。</translation>
    </message>
    <message>
      <source>The cash received ({received}) is less than {due}.</source>
      <translation>实收现金（{received}）少于应付 {due}。</translation>
    </message>
  </context>
  <context>
    <name>PickDialog</name>
    <message>
      <source>Choose (Enter)</source>
      <translation>选择（回车）</translation>
    </message>
    <message>
      <source>Cancel (Esc)</source>
      <translation>取消（Esc）</translation>
    </message>
  </context>
  <context>
    <name>PinPad</name>
    <message>
      <source>Clear</source>
      <translation>清除</translation>
    </message>
  </context>
  <context>
    <name>PointsDialog</name>
    <message>
      <source>Pay with points</source>
      <translation>积分抵扣</translation>
    </message>
    <message>
      <source> points</source>
      <translation> 积分</translation>
    </message>
    <message>
      <source>Balance {balance} points · at most {max} points on this order</source>
      <translation>积分余额 {balance} · 本单最多可用 {max} 积分</translation>
    </message>
    <message>
      <source>(this limit applies)</source>
      <translation>（以此限制为准）</translation>
    </message>
    <message>
      <source>Use these points (Enter)</source>
      <translation>使用这些积分（回车）</translation>
    </message>
    <message>
      <source>No points</source>
      <translation>不用积分</translation>
    </message>
    <message>
      <source>Cancel (Esc)</source>
      <translation>取消（Esc）</translation>
    </message>
    <message>
      <source>Limits:</source>
      <translation>使用限制：</translation>
    </message>
    <message>
      <source>= {value}</source>
      <translation>= {value}</translation>
    </message>
    <message>
      <source>Points are used in multiples of {unit}.</source>
      <translation>积分须按 {unit} 的整数倍使用。</translation>
    </message>
    <message>
      <source>At most {max} points can be used on this order. {reason}</source>
      <translation>本单最多可用 {max} 积分。{reason}</translation>
    </message>
  </context>
  <context>
    <name>ReceiptPane</name>
    <message>
      <source>Hide receipt (Esc)</source>
      <translation>收起小票 (Esc)</translation>
    </message>
    <message>
      <source>Receipt {no}</source>
      <translation>小票 {no}</translation>
    </message>
  </context>
  <context>
    <name>RefundDialog</name>
    <message>
      <source>Return / refund</source>
      <translation>退货 / 退款</translation>
    </message>
    <message>
      <source>Scan or type the receipt number</source>
      <translation>扫描或输入小票号</translation>
    </message>
    <message>
      <source>Find (Enter)</source>
      <translation>查找（回车）</translation>
    </message>
    <message>
      <source>Item</source>
      <translation>商品</translation>
    </message>
    <message>
      <source>Sold</source>
      <translation>已售</translation>
    </message>
    <message>
      <source>Refunded</source>
      <translation>已退</translation>
    </message>
    <message>
      <source>Price</source>
      <translation>单价</translation>
    </message>
    <message>
      <source>Paid in cash</source>
      <translation>实付金额</translation>
    </message>
    <message>
      <source>Return qty</source>
      <translation>退货数量</translation>
    </message>
    <message>
      <source>Manager PIN</source>
      <translation>店长 PIN</translation>
    </message>
    <message>
      <source>Refund</source>
      <translation>确认退货</translation>
    </message>
    <message>
      <source>Close (Esc)</source>
      <translation>关闭（Esc）</translation>
    </message>
    <message>
      <source>Receipt no.</source>
      <translation>小票号</translation>
    </message>
    <message>
      <source>Reason</source>
      <translation>原因</translation>
    </message>
    <message>
      <source>Required: why is it returned?</source>
      <translation>必填：退货原因</translation>
    </message>
    <message>
      <source>Keyboard: ↑↓ choose a line, type the units to return (Space: all or none of the line), F2 returns everything, Enter goes on to the reason.</source>
      <translation>键盘操作：↑↓ 选择商品行，输入退货数量（空格：整行全退或不退），F2 全部退货，回车进入退货原因。</translation>
    </message>
    <message>
      <source>Return everything (F2)</source>
      <translation>全部退货 (F2)</translation>
    </message>
    <message>
      <source>Approving manager</source>
      <translation>批准店长</translation>
    </message>
    <message>
      <source>Choose the manager</source>
      <translation>请选择店长</translation>
    </message>
    <message>
      <source>Scan or type the receipt number.</source>
      <translation>请扫描或输入小票号。</translation>
    </message>
    <message>
      <source>Sale {receipt} of {date}: total {total}, paid {cash}, points used {used}, points earned {earned}.</source>
      <translation>交易 {receipt}（{date}）：合计 {total}，实付 {cash}，使用积分 {used}，获得积分 {earned}。</translation>
    </message>
    <message>
      <source>Every line of this sale has already been refunded.</source>
      <translation>这笔交易的商品已全部退货。</translation>
    </message>
    <message>
      <source>Choose the units to return.</source>
      <translation>请选择退货数量。</translation>
    </message>
    <message>
      <source>Cash back {cash} · points taken back {reversed} · points given back {restored}</source>
      <translation>退款 {cash} · 扣回积分 {reversed} · 退回积分 {restored}</translation>
    </message>
    <message>
      <source>{cash} kept for points already spent</source>
      <translation>{cash} 用于抵扣已花掉的积分</translation>
    </message>
    <message>
      <source>{points} of the points this sale earned had expired: not taken again</source>
      <translation>本单所得积分中有 {points} 分已过期，不再扣回</translation>
    </message>
    <message>
      <source>Choose at least one unit to return.</source>
      <translation>请至少选择一件退货商品。</translation>
    </message>
    <message>
      <source>Give the reason for the refund.</source>
      <translation>请填写退货原因。</translation>
    </message>
    <message>
      <source>Choose the manager who approves.</source>
      <translation>请选择批准的店长。</translation>
    </message>
    <message>
      <source>A manager must approve: type the manager's PIN.</source>
      <translation>需要店长批准：请输入店长 PIN。</translation>
    </message>
    <message>
      <source>Refund {no} done. {detail}</source>
      <translation>退货单 {no} 已完成。{detail}</translation>
    </message>
    <message>
      <source>Member balance now {points} points.</source>
      <translation>会员当前积分余额 {points}。</translation>
    </message>
  </context>
  <context>
    <name>RegisterDialog</name>
    <message>
      <source>Register a member</source>
      <translation>注册会员</translation>
    </message>
    <message>
      <source>Mobile number, e.g. 13812341234</source>
      <translation>手机号，例如 13812341234</translation>
    </message>
    <message>
      <source>Optional</source>
      <translation>选填</translation>
    </message>
    <message>
      <source>Optional, YYYY-MM-DD</source>
      <translation>选填，格式 YYYY-MM-DD</translation>
    </message>
    <message>
      <source>Optional, a friend's referral code</source>
      <translation>选填，好友的推荐码</translation>
    </message>
    <message>
      <source>Only the phone number is required. The till keeps a masked number, never the full one.</source>
      <translation>只有手机号是必填项。收银台只保存打码后的号码，不保存完整号码。</translation>
    </message>
    <message>
      <source>Agrees to offers and member news</source>
      <translation>同意接收优惠和会员活动信息</translation>
    </message>
    <message>
      <source>SMS</source>
      <translation>短信</translation>
    </message>
    <message>
      <source>WeChat</source>
      <translation>微信</translation>
    </message>
    <message>
      <source>E-mail</source>
      <translation>邮件</translation>
    </message>
    <message>
      <source>Tell me the points of each purchase</source>
      <translation>每次消费后通知我所得积分</translation>
    </message>
    <message>
      <source>Register (Enter)</source>
      <translation>注册（回车）</translation>
    </message>
    <message>
      <source>Cancel (Esc)</source>
      <translation>取消（Esc）</translation>
    </message>
    <message>
      <source>Phone</source>
      <translation>手机号</translation>
    </message>
    <message>
      <source>Name</source>
      <translation>姓名</translation>
    </message>
    <message>
      <source>Birthday</source>
      <translation>生日</translation>
    </message>
    <message>
      <source>Referral code</source>
      <translation>推荐码</translation>
    </message>
    <message>
      <source>Contact by</source>
      <translation>联系方式</translation>
    </message>
    <message>
      <source>Type the birthday as YYYY-MM-DD, e.g. 1990-03-05.</source>
      <translation>生日格式为 YYYY-MM-DD，例如 1990-03-05。</translation>
    </message>
  </context>
  <context>
    <name>Rules</name>
    <message>
      <source>Your points can redeem {item}</source>
      <extracomment>Points ranges of the mall (专区): (code, lowest price, highest price or None). Bounds are inclusive at the top: 1000 is in "0-1000", 1001 in "1000-5000". An item counts as new (新品) this long after it appears, even without HQ's flag.</extracomment>
      <translation>您的积分可兑换{item}</translation>
    </message>
    <message>
      <source>Save {short} more points to redeem {item}</source>
      <translation>再攒 {short} 积分即可兑换{item}</translation>
    </message>
    <message>
      <source>Top tier reached.</source>
      <translation>已是最高等级。</translation>
    </message>
    <message>
      <source>Spend {spend} more or earn {points} more points to reach {tier}.</source>
      <translation>再消费 {spend} 或再得 {points} 积分升级{tier}。</translation>
    </message>
    <message>
      <source>Base: {base} points for {amount} eligible</source>
      <translation>基础积分：可积分金额 {amount}，得 {base} 积分</translation>
    </message>
    <message>
      <source>Birthday gift: +{points}</source>
      <translation>生日礼：+{points}</translation>
    </message>
    <message>
      <source>Cannot be paid with points: {items}.</source>
      <translation>以下商品不能用积分支付：{items}。</translation>
    </message>
    <message>
      <source>Daily cap {cap} (already earned {today}): -{cut}</source>
      <translation>每日上限 {cap}（今日已得 {today}）：-{cut}</translation>
    </message>
    <message>
      <source>HQ cannot be reached: at most {limit} points can be used now.</source>
      <translation>无法连接总部：目前最多可用 {limit} 积分。</translation>
    </message>
    <message>
      <source>Only the highest promotion multiplier applies ({names} are not combined).</source>
      <translation>只按最高的活动倍数计算（{names} 不叠加）。</translation>
    </message>
    <message>
      <source>Per-order cap {cap}: -{cut}</source>
      <translation>每单上限 {cap}：-{cut}</translation>
    </message>
    <message>
      <source>Points are used in multiples of {unit} ({value} each).</source>
      <translation>积分按 {unit} 的整数倍使用（每 {unit} 积分抵 {value}）。</translation>
    </message>
    <message>
      <source>Points can be used on orders of {minimum} or more.</source>
      <translation>订单满 {minimum} 才能使用积分。</translation>
    </message>
    <message>
      <source>Points can only be used by an identified member.</source>
      <translation>只有已识别的会员才能使用积分。</translation>
    </message>
    <message>
      <source>Points can pay at most {percent}% of the order, here {cap_points} points ({cap}).</source>
      <translation>积分最多抵扣订单的 {percent}%，本单为 {cap_points} 积分（{cap}）。</translation>
    </message>
    <message>
      <source>Points cannot be used together with a coupon.</source>
      <translation>积分不能与优惠券同时使用。</translation>
    </message>
    <message>
      <source>Referral bonus (first purchase): +{points}</source>
      <translation>推荐奖励（首单）：+{points}</translation>
    </message>
    <message>
      <source>Referrer's bonus: +{points}</source>
      <translation>推荐人奖励：+{points}</translation>
    </message>
    <message>
      <source>The member has {balance} points.</source>
      <translation>会员现有 {balance} 积分。</translation>
    </message>
    <message>
      <source>{label}: +{extra}</source>
      <translation>{label}：+{extra}</translation>
    </message>
    <message>
      <source>{name} x{mult}</source>
      <translation>{name} ×{mult}</translation>
    </message>
    <message>
      <source>{tier} x{mult}</source>
      <translation>{tier} ×{mult}</translation>
    </message>
  </context>
  <context>
    <name>Tiers</name>
    <message>
      <source>Regular</source>
      <translation>普通会员</translation>
    </message>
    <message>
      <source>Silver</source>
      <translation>银卡会员</translation>
    </message>
    <message>
      <source>Gold</source>
      <translation>金卡会员</translation>
    </message>
  </context>
  <context>
    <name>TotalsPanel</name>
    <message>
      <source>Subtotal</source>
      <translation>商品合计</translation>
    </message>
    <message>
      <source>Discounts</source>
      <translation>优惠</translation>
    </message>
    <message>
      <source>Points</source>
      <translation>积分抵扣</translation>
    </message>
    <message>
      <source>Order total</source>
      <translation>订单合计</translation>
    </message>
    <message>
      <source>To pay</source>
      <translation>应付金额</translation>
    </message>
    <message>
      <source>Coupons {codes}: {value}</source>
      <translation>优惠券 {codes}：{value}</translation>
    </message>
    <message>
      <source>{points} pts = {value}</source>
      <translation>{points} 积分 = {value}</translation>
    </message>
    <message>
      <source>No member: this sale earns no points.</source>
      <translation>非会员：本单不积分。</translation>
    </message>
    <message>
      <source>This sale earns {points} points</source>
      <translation>本单预计获得 {points} 积分</translation>
    </message>
  </context>
  <context>
    <name>FunctionKeys</name>
    <message>
      <source>A member by the first 3 and last 4 digits of the phone</source>
      <translation>按手机号前 3 位和后 4 位找会员</translation>
    </message>
    <message>
      <source>Apply a coupon to the basket</source>
      <translation>给本单使用优惠券</translation>
    </message>
    <message>
      <source>Card/Mobile</source>
      <translation>刷卡/扫码</translation>
    </message>
    <message>
      <source>Cash</source>
      <translation>现金</translation>
    </message>
    <message>
      <source>Clear the input, hide the receipt / close a dialog</source>
      <translation>清空输入、收起小票 / 关闭对话框</translation>
    </message>
    <message>
      <source>Coupon</source>
      <translation>优惠券</translation>
    </message>
    <message>
      <source>Help</source>
      <translation>帮助</translation>
    </message>
    <message>
      <source>Hold</source>
      <translation>挂单</translation>
    </message>
    <message>
      <source>Hold the basket</source>
      <translation>挂单</translation>
    </message>
    <message>
      <source>Lock</source>
      <translation>锁屏</translation>
    </message>
    <message>
      <source>Lock the till</source>
      <translation>锁定收银台</translation>
    </message>
    <message>
      <source>Mall</source>
      <translation>积分商城</translation>
    </message>
    <message>
      <source>Manager</source>
      <translation>店长</translation>
    </message>
    <message>
      <source>Member</source>
      <translation>会员</translation>
    </message>
    <message>
      <source>Pay by card, WeChat Pay or Alipay</source>
      <translation>刷卡、微信或支付宝支付</translation>
    </message>
    <message>
      <source>Pay cash</source>
      <translation>现金支付</translation>
    </message>
    <message>
      <source>Pay part with points</source>
      <translation>用积分抵扣部分金额</translation>
    </message>
    <message>
      <source>Points</source>
      <translation>积分</translation>
    </message>
    <message>
      <source>Recall</source>
      <translation>取单</translation>
    </message>
    <message>
      <source>Recall a held basket</source>
      <translation>取回挂单</translation>
    </message>
    <message>
      <source>Receipt</source>
      <translation>看小票</translation>
    </message>
    <message>
      <source>Register a member</source>
      <translation>注册会员</translation>
    </message>
    <message>
      <source>Remove the selected line</source>
      <translation>删除选中的商品行</translation>
    </message>
    <message>
      <source>Reprint</source>
      <translation>重印</translation>
    </message>
    <message>
      <source>Reprint the last receipt (marked 重印)</source>
      <translation>重打上一张小票（标注“重印”）</translation>
    </message>
    <message>
      <source>Return</source>
      <translation>退货</translation>
    </message>
    <message>
      <source>Return / refund a sale</source>
      <translation>退货 / 退款</translation>
    </message>
    <message>
      <source>Ring up 3 units of a product</source>
      <translation>一次录入 3 件商品</translation>
    </message>
    <message>
      <source>Scan or type: barcode / SKU, member code, phone, last 4 digits, receipt no.</source>
      <translation>扫码或输入：商品条码/编码、会员码、手机号、手机尾号 4 位、小票号</translation>
    </message>
    <message>
      <source>Show the last receipt on screen (Esc hides it)</source>
      <translation>在屏幕上查看上一张小票（Esc 收起）</translation>
    </message>
    <message>
      <source>The manager's views (managers only)</source>
      <translation>店长视图（仅限店长）</translation>
    </message>
    <message>
      <source>The points mall's front page (hot, value picks, new, lottery); in the mall: arrows and Enter choose, F11 lists every item, Esc goes back</source>
      <translation>积分商城首页（热门、超值、新品、抽奖）；商城内：方向键和回车选择，F11 列出全部礼品，Esc 返回</translation>
    </message>
    <message>
      <source>This help</source>
      <translation>本帮助</translation>
    </message>
    <message>
      <source>Void</source>
      <translation>作废</translation>
    </message>
    <message>
      <source>Void the basket (press twice)</source>
      <translation>作废本单（按两次）</translation>
    </message>
  </context>
</TS>
